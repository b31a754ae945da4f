//! Who may join an instance: the checks a subscribe runs, from a client's
//! request, a handler's `join`, and again after every in-band refresh.

use std::sync::Arc;
use std::time::Duration;

use wsauth_spec::wire::TopicRefusal;

use super::instance::InstanceKey;
use crate::principal::Principal;
use crate::store::{CheckContext, CheckOutcome, Checks};

/// The topic's permission, then its resource checks with the instance's
/// params, each failing closed; the checks together get `budget`, as a
/// handshake's do.
pub(crate) async fn authorize(
    checks: Option<&Arc<dyn Checks>>,
    budget: Duration,
    key: &InstanceKey,
    principal: &Principal,
) -> Result<(), TopicRefusal> {
    let topic = key.topic;
    if let Some(perm) = topic.subscribe
        && !principal.has(perm)
    {
        return Err(TopicRefusal::Forbidden);
    }
    if topic.checks.is_empty() {
        return Ok(());
    }
    let checks = checks.ok_or(TopicRefusal::ServerError)?;
    let cx = CheckContext {
        principal,
        params: &key.raw,
        topic: Some(topic.name),
    };
    let run = async {
        for &name in topic.checks {
            match checks.check(name, &cx).await {
                Ok(CheckOutcome::Allow) => {}
                Ok(CheckOutcome::Forbidden) => return Err(TopicRefusal::Forbidden),
                Ok(CheckOutcome::NotFound) => return Err(TopicRefusal::NotFound),
                Err(e) => {
                    tracing::warn!(topic = topic.name, check = name, error = %e, "a topic check failed");
                    return Err(TopicRefusal::ServerError);
                }
            }
        }
        Ok(())
    };
    tokio::time::timeout(budget, run)
        .await
        .unwrap_or(Err(TopicRefusal::ServerError))
}
