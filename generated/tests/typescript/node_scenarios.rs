//! The generated TypeScript client's topics under Node, end to end: the
//! topic scenarios every generated client passes
//! (`generated/tests/scenarios/topics.json`), each against a fresh prsm
//! configured with the file's conversations, run by
//! `js/tests/node_scenarios.ts` (compiled by tsc into `js/out/`, run with
//! `node --experimental-websocket`) through `generated/prsm/prsm.ts`.

use crate::support::SECRET;
use crate::support::examples::start_prsm;
use crate::support::scenarios;
use crate::support::tools::{compile_typescript, node, run_blocking};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_client_passes_the_shared_topic_scenarios_under_node() {
    compile_typescript();
    let file = scenarios::load();
    for scenario in &file.scenarios {
        let prsm = start_prsm(|c| file.configure(c), axum::Router::new()).await;
        let mut node = node();
        node.args(["--experimental-websocket", "out/js/tests/node_scenarios.js"])
            .env("WSAUTH_SCENARIOS", scenarios::path())
            .env("WSAUTH_SCENARIO", &scenario.name)
            .env("WSAUTH_WS_URL", prsm.ws_url())
            .env("WSAUTH_SECRET", SECRET);
        let output = run_blocking(node).await;
        println!("{output}");
        assert!(
            output.contains(&format!("ok - {}", scenario.name)),
            "the scenario ran to its end:\n{output}"
        );
    }
}
