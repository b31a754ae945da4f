// The lighter form: the session type names the endpoint, and the second
// parameter takes the application state, the whole of it or a part that
// the state provides. A handler that takes none runs with any state.
mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

use std::sync::atomic::{AtomicI64, Ordering};

struct Counter(AtomicI64);

struct App {
    counter: Counter,
}

impl wsauth_core::Provides<Counter> for App {
    fn provide(&self) -> &Counter {
        &self.counter
    }
}

#[wsauth_core::ws_endpoint(perm = "notifications.read")]
async fn notifications(_session: ep::notifications::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "conversation.read")]
async fn conversation(_session: ep::conversation::Session, app: &App) -> wsauth_core::HandlerResult {
    app.counter.0.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "wallet.read")]
async fn web3(_session: ep::web3::Session, counter: &Counter) -> wsauth_core::HandlerResult {
    counter.0.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "conversation.read")]
async fn quiet_conversation(_session: ep::conversation::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "wallet.read")]
async fn quiet_web3(_session: ep::web3::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {
    let app = App { counter: Counter(AtomicI64::new(0)) };
    let _with_parts = prsm::Handlers { notifications, conversation, web3 }.with_state(app);
    let _whole = prsm::Handlers { notifications, conversation: quiet_conversation, web3 }
        .with_state(Counter(AtomicI64::new(0)));
    let _stateless = prsm::Handlers { notifications, conversation: quiet_conversation, web3: quiet_web3 }
        .into_builder();
}
