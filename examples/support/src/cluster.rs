//! `--redis URL` for every example binary: nodes given the same Redis form
//! one cluster (per-user connection limits across nodes, revocation
//! everywhere; see `wsauth_core::ClusterConfig`).
//!
//! ```text
//! WSAUTH_REDIS_URL=redis://127.0.0.1:6379 prsm --addr 127.0.0.1:8001
//! WSAUTH_REDIS_URL=redis://127.0.0.1:6379 prsm --addr 127.0.0.1:8002
//! ```

use std::time::Duration;

use wsauth_core::{Builder, ClusterConfig, FailurePolicy};

/// The cluster options of an example binary (`#[command(flatten)]`).
#[derive(Clone, Debug, clap::Args)]
pub struct ClusterArgs {
    /// Join the cluster of every server sharing this Redis
    /// (`redis://host:port`); without it the server runs alone.
    #[arg(long = "redis", env = "WSAUTH_REDIS_URL", value_name = "URL")]
    pub redis: Option<String>,
    /// What to do with new authenticated connections while Redis is
    /// unreachable: refuse them (1013, retry later) or admit them under
    /// this server's own per-user limit.
    #[arg(long, env = "WSAUTH_REDIS_POLICY", value_enum, default_value_t = Policy::Refuse)]
    pub redis_policy: Policy,
    /// How long a dead server's connection slots stay taken, in
    /// milliseconds (renewed every third of it).
    #[arg(
        long,
        env = "WSAUTH_REDIS_LEASE_TTL_MS",
        value_name = "MS",
        hide = true
    )]
    pub redis_lease_ttl_ms: Option<u64>,
}

/// [`FailurePolicy`] as the command line spells it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Policy {
    /// Close new authenticated connections with 1013.
    Refuse,
    /// Admit them under this server's own per-user limit.
    Degrade,
}

impl From<Policy> for FailurePolicy {
    fn from(policy: Policy) -> Self {
        match policy {
            Policy::Refuse => FailurePolicy::Refuse,
            Policy::Degrade => FailurePolicy::Degrade,
        }
    }
}

impl ClusterArgs {
    /// The cluster to join, if `--redis` was given.
    pub fn config(&self) -> Option<ClusterConfig> {
        let url = self.redis.clone()?;
        let mut config = ClusterConfig {
            policy: self.redis_policy.into(),
            ..ClusterConfig::new(url)
        };
        if let Some(ms) = self.redis_lease_ttl_ms {
            config.lease_ttl = Duration::from_millis(ms.max(3));
            config.renew_every = config.lease_ttl / 3;
        }
        Some(config)
    }
}

/// `builder`, joining `cluster` when there is one.
pub fn clustered(builder: Builder, cluster: Option<ClusterConfig>) -> Builder {
    match cluster {
        Some(config) => builder.redis(config),
        None => builder,
    }
}
