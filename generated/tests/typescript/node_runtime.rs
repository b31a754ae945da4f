//! The generated client's runtime under Node against a fake WebSocket:
//! `js/tests/node_runtime.ts` (compiled by tsc into `js/out/`) checks what no
//! real server shows quickly: delays past 2^31 - 1 ms (which hosts fire at
//! once) for the in-band refresh, the heartbeat and the backoff; listeners
//! and handlers that throw (reported, and the connection still reconnects
//! and ends); a token provider that never settles (bounded by
//! `connectTimeoutMs`, then a 1006 backoff); and server messages that break
//! their schema (refused as `invalid`). See that file for the scenarios.

use crate::support::tools::{compile_typescript, node, run};

#[test]
fn runtime_timers_callbacks_and_providers_against_a_fake_websocket() {
    compile_typescript();
    let mut node = node();
    node.arg("out/js/tests/node_runtime.js");
    let output = run(node);
    println!("{output}");
    assert!(
        output.contains("8 scenarios passed"),
        "every scenario ran:\n{output}"
    );
}
