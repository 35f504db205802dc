//! The EC2 budget as configured, and the budget it makes: in this replica's memory, or shared
//! by the replicas through Redis under the account's key.

use super::Budget;
use super::rates::Rate;
use super::shared::{Password, RedisUrl, SharedSettings, redis_location};
use crate::protection::stats::Stats;
use aws_config::SdkConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long leased budget slots stay usable: slots within this time of the first are
/// leased, and a slot expires this long after its time.
const LEASE_HORIZON: Duration = Duration::from_millis(100);

/// The EC2 budget, as configured.
#[derive(Debug, Clone)]
pub struct BudgetSettings {
    /// The part of the account's EC2 rate the gateway may spend (each replica's without
    /// Redis; all replicas' together with it).
    pub share: f64,
    /// Request buckets replacing EC2's numbers.
    pub rates: Vec<(String, Rate)>,
    /// Share the budget between replicas through Redis; `None`: in memory.
    pub redis: Option<RedisSettings>,
}

/// The Redis the replicas share the budget through.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` (never logged).
    pub url: RedisUrl,
    /// A file holding the password, for a URL without one.
    pub password_file: Option<PathBuf>,
    /// The account's budget name; `None`: derived from the credentials and the region.
    pub key: Option<String>,
    /// The longest one Redis call may take.
    pub timeout: Duration,
    /// The most request slots one round trip takes.
    pub lease: u32,
    /// While Redis is away, never assume fewer replicas than this.
    pub replicas_floor: usize,
}

impl RedisSettings {
    /// The password of `password_file`, if one is set; fails when it cannot be read.
    pub fn password(&self) -> Result<Option<Password>, String> {
        let Some(path) = &self.password_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read --ec2-budget-redis-password-file {}: {e}",
                path.display()
            )
        })?;
        Ok(Some(Password(text.trim().to_owned())))
    }
}

impl BudgetSettings {
    /// The budget of one target these settings ask for. `aws` is the target's AWS
    /// configuration; `key` names its shared budget (`None`: named after the credentials'
    /// account and the region, or the configured `--ec2-budget-key`); `share` replaces the
    /// configured share (an accounts file's override). Fails on an unreadable password file,
    /// credentials that cannot be read, or a malformed URL (Redis itself may be away: the
    /// replica then starts on its fallback share).
    pub async fn budget(
        &self,
        aws: &SdkConfig,
        key: Option<String>,
        share: Option<f64>,
        stats: Arc<Stats>,
    ) -> Result<Budget, String> {
        let share = share.unwrap_or(self.share);
        let Some(redis) = &self.redis else {
            return Ok(Budget::new(share, &self.rates));
        };
        let password = redis.password()?;
        let key = match key.or_else(|| redis.key.clone()) {
            Some(key) => key,
            None => derived_key(aws).await?,
        };
        tracing::info!(
            redis = %redis_location(&redis.url.0),
            key = %key,
            share,
            "EC2 budget shared by the replicas through Redis"
        );
        let replica = format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "ec2-grpc".to_owned()),
            uuid::Uuid::new_v4().simple()
        );
        Budget::shared(
            SharedSettings {
                url: redis.url.clone(),
                password,
                key,
                share,
                overrides: self.rates.clone(),
                timeout: redis.timeout,
                lease: redis.lease,
                lease_horizon: LEASE_HORIZON,
                replicas_floor: redis.replicas_floor,
                replica,
            },
            stats,
        )
    }
}

/// `ACCOUNT:REGION` of the configured credentials, or `default:REGION` when they do not say
/// their account. Credentials that cannot be read stop the start rather than name a budget
/// the other replicas would not share.
pub async fn derived_key(aws: &SdkConfig) -> Result<String, String> {
    use aws_sdk_ec2::config::ProvideCredentials;
    let region = aws
        .region()
        .map_or_else(|| "no-region".to_owned(), |r| r.to_string());
    let account = match aws.credentials_provider() {
        Some(provider) => provider
            .provide_credentials()
            .await
            .map_err(|e| {
                format!(
                    "cannot read the AWS credentials to name the shared EC2 budget ({e}); \
                     set --ec2-budget-key"
                )
            })?
            .account_id()
            .map(|a| a.as_str().to_owned()),
        None => None,
    };
    Ok(match account {
        Some(account) => format!("{account}:{region}"),
        None => {
            tracing::warn!(
                "the AWS credentials do not say their account: the shared EC2 budget is named \
                 default:{region}; set --ec2-budget-key when several accounts share one Redis"
            );
            format!("default:{region}")
        }
    })
}
