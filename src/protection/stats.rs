//! Counters of the protection at work: how long calls waited for budget, how often EC2
//! throttled, how many attempts were retries, how many EC2 calls coalescing saved, how many
//! calls the quotas and the shedding refused. Each event also goes to the OpenTelemetry
//! instruments (`telemetry::metrics`), with its EC2 action where it has one.

use crate::telemetry::metrics::{instruments, with_target};
use opentelemetry::KeyValue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The live counters (shared; cheap to bump). One per target: the instruments carry its
/// account and region (`cloud.account.id`, `cloud.region`).
#[derive(Debug, Default)]
pub struct Stats {
    /// The target's attributes, added to every instrument's own.
    target: Vec<KeyValue>,
    budget_wait_micros: AtomicU64,
    budget_refusals: AtomicU64,
    ec2_attempts: AtomicU64,
    ec2_retries: AtomicU64,
    ec2_throttles: AtomicU64,
    coalesced_calls: AtomicU64,
    caller_refusals: AtomicU64,
    shed_calls: AtomicU64,
    budget_redis_calls: AtomicU64,
    budget_fallbacks: AtomicU64,
}

/// A snapshot of `Stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Total time EC2 calls waited for budget, in microseconds.
    pub budget_wait_micros: u64,
    /// Calls refused because their budget slot came after their deadline.
    pub budget_refusals: u64,
    /// HTTP attempts sent to EC2 (retries included).
    pub ec2_attempts: u64,
    /// Of those, retries.
    pub ec2_retries: u64,
    /// Throttling answers (HTTP 503) received from EC2.
    pub ec2_throttles: u64,
    /// EC2 calls coalescing saved (identical describes shared, id describes merged).
    pub coalesced_calls: u64,
    /// Calls refused by a caller's quota.
    pub caller_refusals: u64,
    /// Calls shed because the service was at its concurrency limit.
    pub shed_calls: u64,
    /// Round trips to Redis made by the shared budget.
    pub budget_redis_calls: u64,
    /// Times the shared budget fell back to the local one.
    pub budget_fallbacks: u64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Stats {
    /// The counters of one target: `account` (its id, or its alias when the id is unknown)
    /// in `region`.
    pub fn for_target(account: &str, region: &str) -> Stats {
        Stats {
            target: vec![
                KeyValue::new("cloud.account.id", account.to_owned()),
                KeyValue::new("cloud.region", region.to_owned()),
            ],
            ..Stats::default()
        }
    }

    /// The target's attributes (empty for counters of no target).
    pub fn target_attributes(&self) -> &[KeyValue] {
        &self.target
    }

    /// `own` attributes, then the target's.
    fn with_target<const N: usize>(&self, own: [KeyValue; N]) -> Vec<KeyValue> {
        with_target(own, &self.target)
    }

    /// An attempt of `action` waited `wait` for budget.
    pub fn budget_waited(&self, action: &str, wait: Duration) {
        bump(&self.budget_wait_micros, wait.as_micros() as u64);
        let attrs = self.with_target([KeyValue::new("ec2.action", action.to_owned())]);
        instruments().budget_wait.record(wait.as_secs_f64(), &attrs);
    }
    /// A call of `action` was refused for lack of budget before its deadline.
    pub fn budget_refused(&self, action: &str) {
        bump(&self.budget_refusals, 1);
        let attrs = self.with_target([KeyValue::new("ec2.action", action.to_owned())]);
        instruments().budget_refusals.add(1, &attrs);
    }
    /// An HTTP attempt of `action` went to EC2 and ended with `outcome` after `elapsed`.
    pub fn ec2_attempted(&self, action: &str, outcome: &'static str, elapsed: Duration) {
        bump(&self.ec2_attempts, 1);
        let attrs = self.with_target([
            KeyValue::new("ec2.action", action.to_owned()),
            KeyValue::new("outcome", outcome),
        ]);
        instruments().ec2_calls.add(1, &attrs);
        instruments()
            .ec2_duration
            .record(elapsed.as_secs_f64(), &attrs);
    }
    /// An attempt was a retry.
    pub fn ec2_retry(&self) {
        bump(&self.ec2_retries, 1);
        instruments().ec2_retries.add(1, &self.target);
    }
    /// EC2 answered a call of `action` with throttling.
    pub fn ec2_throttled(&self, action: &str) {
        bump(&self.ec2_throttles, 1);
        let attrs = self.with_target([KeyValue::new("ec2.action", action.to_owned())]);
        instruments().ec2_throttles.add(1, &attrs);
    }
    /// Coalescing saved `n` EC2 calls.
    pub fn coalesced(&self, n: u64) {
        bump(&self.coalesced_calls, n);
        instruments().coalesced.add(n, &self.target);
    }
    /// A caller's quota refused a call.
    pub fn caller_refused(&self) {
        bump(&self.caller_refusals, 1);
        let attrs = [KeyValue::new("reason", "CALLER_QUOTA_EXCEEDED")];
        instruments().rpc_refusals.add(1, &attrs);
    }
    /// A call was shed.
    pub fn shed(&self) {
        bump(&self.shed_calls, 1);
        instruments()
            .rpc_refusals
            .add(1, &[KeyValue::new("reason", "OVERLOADED")]);
    }

    /// The shared budget made a round trip to Redis, ending with `outcome` (`ok`, `error`,
    /// `timeout`).
    pub fn budget_redis_call(&self, outcome: &'static str) {
        bump(&self.budget_redis_calls, 1);
        instruments()
            .budget_redis_calls
            .add(1, &self.with_target([KeyValue::new("outcome", outcome)]));
    }
    /// The budget's mode now: shared through Redis, or the local fallback (counted when it
    /// falls back).
    pub fn budget_mode(&self, shared: bool) {
        if !shared {
            bump(&self.budget_fallbacks, 1);
            instruments().budget_fallbacks.add(1, &self.target);
        }
        instruments()
            .budget_shared
            .record(i64::from(shared), &self.target);
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            budget_wait_micros: get(&self.budget_wait_micros),
            budget_refusals: get(&self.budget_refusals),
            ec2_attempts: get(&self.ec2_attempts),
            ec2_retries: get(&self.ec2_retries),
            ec2_throttles: get(&self.ec2_throttles),
            coalesced_calls: get(&self.coalesced_calls),
            caller_refusals: get(&self.caller_refusals),
            shed_calls: get(&self.shed_calls),
            budget_redis_calls: get(&self.budget_redis_calls),
            budget_fallbacks: get(&self.budget_fallbacks),
        }
    }
}
