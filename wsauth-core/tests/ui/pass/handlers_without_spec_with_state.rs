// The lighter form: the session type names the endpoint, the second
// parameter takes the application state (the whole of it, or a part the
// state provides), and a handler may take none.
mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

struct Store;
struct Counter(std::sync::atomic::AtomicI64);
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
    app.counter.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "wallet.read")]
async fn web3(_session: ep::web3::Session, counter: &Counter) -> wsauth_core::HandlerResult {
    counter.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "wallet.read")]
async fn web3_with_store(_session: ep::web3::Session, _store: &Store) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {
    let app = App { counter: Counter(std::sync::atomic::AtomicI64::new(0)) };
    let _builder = prsm::Handlers { notifications, conversation, web3 }.with_state(app);
    let _stateless = prsm::Handlers { notifications, conversation: quiet_conversation, web3: web3_stateless }.into_builder();
    let _store = prsm::Handlers { notifications, conversation: quiet_conversation, web3: web3_with_store }.with_state(Store);
}

#[wsauth_core::ws_endpoint(perm = "conversation.read")]
async fn quiet_conversation(_session: ep::conversation::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "wallet.read")]
async fn web3_stateless(_session: ep::web3::Session) -> wsauth_core::HandlerResult {
    Ok(())
}
