//! The EC2 budget: client-side token buckets that mirror EC2's account buckets, so the gateway
//! spends the account's API rate on purpose instead of discovering it as `RequestLimitExceeded`.
//!
//! One interface, two stores:
//! - `local`: in this replica's memory, the embedded default (`--ec2-budget-share` is this
//!   replica's part of the account);
//! - `shared`: in Redis, shared by every replica (`--ec2-budget-redis-url`; the share is for
//!   all replicas together), falling back to `local` while Redis is away.
//!
//! `rates` holds EC2's numbers, `bucket` the token-bucket arithmetic, `script` the Redis side,
//! `settings` the configuration and the budget it makes.

pub mod bucket;
pub mod local;
pub mod rates;
pub mod script;
pub mod settings;
pub mod shared;

use crate::error::Error;
use local::LocalBudget;
pub use rates::{EC2_INSTANCE_RATES, EC2_REQUEST_RATES, Rate};
pub use settings::BudgetSettings;
use shared::{SharedBudget, SharedSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Time a call needs after its budget wait (the EC2 round trip and the answer's way back to
/// the caller): a slot closer than this to the deadline does not fit.
pub const CALL_ALLOWANCE: Duration = Duration::from_millis(250);

/// The EC2 budget every EC2 attempt passes (see `ec2::budgeted`).
#[derive(Debug)]
pub enum Budget {
    /// In this replica's memory.
    Local(LocalBudget),
    /// In Redis, shared by the replicas.
    Shared(Arc<SharedBudget>),
}

impl Budget {
    /// The in-process budget: EC2's buckets scaled by `share` (this replica's part of the
    /// account), with `overrides` replacing EC2's numbers.
    pub fn new(share: f64, overrides: &[(String, Rate)]) -> Budget {
        Budget::Local(LocalBudget::new(share, overrides))
    }

    /// The budget shared through Redis (see `shared`).
    pub fn shared(
        settings: SharedSettings,
        stats: Arc<crate::protection::stats::Stats>,
    ) -> Result<Budget, String> {
        SharedBudget::start(settings, stats).map(Budget::Shared)
    }

    /// Reserves a slot for one call of `action` acting on `instances` instances, and waits
    /// for it. Fails at once when the slot leaves less than `CALL_ALLOWANCE` before
    /// `deadline`. Answers how long it waited.
    pub async fn acquire(
        &self,
        action: &str,
        instances: usize,
        deadline: Option<Instant>,
    ) -> Result<Duration, Error> {
        match self {
            Budget::Local(local) => local.acquire(action, instances, deadline).await,
            Budget::Shared(shared) => shared.acquire(action, instances, deadline).await,
        }
    }

    /// EC2 answered a call of `action` with throttling: someone else is spending the account's
    /// rate, so the action's refill goes down (for every replica, when shared).
    pub fn throttled(&self, action: &str) {
        match self {
            Budget::Local(local) => local.throttled(action),
            Budget::Shared(shared) => shared.throttled(action),
        }
    }
}
