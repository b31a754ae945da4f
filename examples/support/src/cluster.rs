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
///
/// The URL may hold a password: `--help` does not show the environment's
/// value, and `Debug` shows only whether there is one.
#[derive(Clone, clap::Args)]
pub struct ClusterArgs {
    /// Join the cluster of every server sharing this Redis
    /// (`redis://host:port`); without it the server runs alone.
    #[arg(
        long = "redis",
        env = "WSAUTH_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
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

/// Everything but the URL, which may hold a password.
impl std::fmt::Debug for ClusterArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterArgs")
            .field("redis", &self.redis.as_ref().map(|_| "<redacted>"))
            .field("redis_policy", &self.redis_policy)
            .field("redis_lease_ttl_ms", &self.redis_lease_ttl_ms)
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::ClusterArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        cluster: ClusterArgs,
    }

    #[test]
    fn the_redis_url_stays_out_of_help_and_debug() {
        let command = Cli::command();
        let redis = command
            .get_arguments()
            .find(|arg| arg.get_id() == "redis")
            .map(clap::Arg::is_hide_env_values_set);
        assert_eq!(redis, Some(true), "--help would print WSAUTH_REDIS_URL");
        let cli = Cli::parse_from(["server", "--redis", "redis://app:s3cret@host:6379"]);
        let shown = format!("{:?}", cli.cluster);
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
