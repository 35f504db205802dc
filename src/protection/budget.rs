//! The EC2 budget: client-side token buckets that mirror EC2's account buckets, so the gateway
//! spends the account's API rate on purpose instead of discovering it as `RequestLimitExceeded`.
//!
//! Each EC2 call reserves one token of its action's request bucket (and, for launches, starts,
//! stops and terminations, one token per instance of the action's instance bucket). A bucket
//! short of tokens hands out a later slot: the call waits for it, if the wait fits the call's
//! deadline; otherwise it fails at once with UNAVAILABLE and a RetryInfo saying when a slot
//! opens. A throttling answer from EC2 halves the bucket's refill (other tools are using the
//! account), which then recovers by 1% of the configured rate per second.

use crate::error::Error;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A bucket's size and refill, as EC2 documents them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens when full (the burst).
    pub capacity: f64,
    /// Tokens added per second.
    pub refill_per_sec: f64,
}

impl Rate {
    /// A bucket of `capacity` tokens refilled by `refill_per_sec` a second.
    pub const fn new(capacity: f64, refill_per_sec: f64) -> Rate {
        Rate {
            capacity,
            refill_per_sec,
        }
    }
}

/// EC2's request buckets (capacity, refill per second), for the paginated or filtered
/// describes the gateway always makes, and its mutating actions.
pub const EC2_REQUEST_RATES: [(&str, Rate); 11] = [
    ("DescribeInstances", Rate::new(100.0, 20.0)),
    ("DescribeNetworkInterfaces", Rate::new(100.0, 20.0)),
    ("RunInstances", Rate::new(5.0, 2.0)),
    ("StartInstances", Rate::new(5.0, 2.0)),
    ("StopInstances", Rate::new(50.0, 5.0)),
    ("RebootInstances", Rate::new(50.0, 5.0)),
    ("TerminateInstances", Rate::new(100.0, 5.0)),
    ("MonitorInstances", Rate::new(50.0, 5.0)),
    ("UnmonitorInstances", Rate::new(50.0, 5.0)),
    ("CreateNetworkInterface", Rate::new(100.0, 5.0)),
    ("CreateTags", Rate::new(100.0, 10.0)),
];

/// EC2's instance-count buckets: instances launched or started, stopped or terminated.
pub const EC2_INSTANCE_RATES: [(&str, Rate); 4] = [
    ("RunInstances", Rate::new(1000.0, 2.0)),
    ("StartInstances", Rate::new(1000.0, 2.0)),
    ("StopInstances", Rate::new(1000.0, 20.0)),
    ("TerminateInstances", Rate::new(1000.0, 20.0)),
];

/// Time a call needs after its budget wait (the EC2 round trip and the answer's way back to
/// the caller): a slot closer than this to the deadline does not fit.
pub const CALL_ALLOWANCE: Duration = Duration::from_millis(250);

/// A slot waits for this fraction of a token more than it needs.
const SPARE_TOKENS: f64 = 0.02;

/// The lowest the adaptive factor goes after throttling answers.
const MIN_FACTOR: f64 = 0.1;
/// How fast the adaptive factor recovers, per second.
const RECOVERY_PER_SEC: f64 = 0.01;

/// One token bucket, allowed to go below zero: a negative balance is the queue of reserved
/// slots. The per-caller quotas use it too.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// Size and refill (already scaled by the gateway's share).
    rate: Rate,
    /// Tokens now.
    tokens: f64,
    /// 1.0, or less after throttling answers.
    factor: f64,
    /// When `tokens` and `factor` were last brought up to date.
    updated: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn new(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            rate,
            tokens: rate.capacity,
            factor: 1.0,
            updated: now,
        }
    }

    /// The refill now, after adaptation.
    fn refill_per_sec(&self) -> f64 {
        self.rate.refill_per_sec * self.factor
    }

    /// Refills for the time since the last update (and recovers the adaptive factor).
    pub(crate) fn catch_up(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill_per_sec()).min(self.rate.capacity);
        self.factor = (self.factor + elapsed * RECOVERY_PER_SEC).min(1.0);
        self.updated = now;
    }

    /// Takes `n` tokens (the balance may go negative: reserved slots).
    pub(crate) fn take(&mut self, n: f64) {
        self.tokens -= n;
    }

    /// Whether it is full (an idle caller's bucket can be forgotten).
    pub(crate) fn is_full(&self) -> bool {
        self.tokens >= self.rate.capacity
    }

    /// How long until `n` tokens are there, with a hair to spare: EC2's bucket is counted by
    /// other clocks, and a slot computed to the nanosecond may land a rounding error short.
    pub(crate) fn wait_for(&self, n: f64) -> Duration {
        let missing = n - self.tokens;
        if missing <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((missing + SPARE_TOKENS) / self.refill_per_sec())
    }
}

/// The buckets of every action the gateway calls.
#[derive(Debug)]
pub struct Budget {
    /// Request buckets and instance buckets, by action, behind one lock: a reservation takes
    /// from both or from neither.
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    requests: HashMap<String, Bucket>,
    instances: HashMap<String, Bucket>,
}

impl Budget {
    /// EC2's buckets scaled by `share` (the part of the account's rate this gateway may use;
    /// each replica's part when several run), with `overrides` replacing EC2's numbers.
    pub fn new(share: f64, overrides: &[(String, Rate)]) -> Budget {
        let now = Instant::now();
        let scaled = |rate: Rate| Rate {
            capacity: (rate.capacity * share).max(1.0),
            refill_per_sec: rate.refill_per_sec * share,
        };
        let mut requests: HashMap<String, Bucket> = EC2_REQUEST_RATES
            .iter()
            .map(|(action, rate)| (action.to_string(), Bucket::new(scaled(*rate), now)))
            .collect();
        for (action, rate) in overrides {
            requests.insert(action.clone(), Bucket::new(scaled(*rate), now));
        }
        let instances = EC2_INSTANCE_RATES
            .iter()
            .map(|(action, rate)| (action.to_string(), Bucket::new(scaled(*rate), now)))
            .collect();
        Budget {
            buckets: Mutex::new(Buckets {
                requests,
                instances,
            }),
        }
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
        let wait = self.reserve(action, instances, deadline, Instant::now())?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(wait)
    }

    /// The reservation itself: takes the tokens and answers the wait, or takes nothing.
    fn reserve(
        &self,
        action: &str,
        instances: usize,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Result<Duration, Error> {
        let mut buckets = self.buckets.lock().expect("budget lock");
        let Buckets {
            requests,
            instances: counts,
        } = &mut *buckets;
        let mut wait = Duration::ZERO;
        let mut request = requests.get_mut(action);
        if let Some(b) = request.as_deref_mut() {
            b.catch_up(now);
            wait = wait.max(b.wait_for(1.0));
        }
        let mut count = if instances > 0 {
            counts.get_mut(action)
        } else {
            None
        };
        if let Some(b) = count.as_deref_mut() {
            b.catch_up(now);
            // A call larger than the whole bucket waits only for a full bucket.
            wait = wait.max(b.wait_for((instances as f64).min(b.rate.capacity)));
        }
        if let Some(deadline) = deadline
            && now + wait + CALL_ALLOWANCE > deadline
        {
            return Err(Error::BudgetExhausted {
                action: action.to_owned(),
                retry_after: wait,
            });
        }
        if let Some(b) = request {
            b.take(1.0);
        }
        if let Some(b) = count {
            b.take(instances as f64);
        }
        Ok(wait)
    }

    /// EC2 answered a call of `action` with throttling: someone else is spending the account's
    /// rate, so halve this bucket's refill (down to 10%); it recovers slowly.
    pub fn throttled(&self, action: &str) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("budget lock");
        if let Some(b) = buckets.requests.get_mut(action) {
            b.catch_up(now);
            b.factor = (b.factor * 0.5).max(MIN_FACTOR);
            b.tokens = b.tokens.min(0.0);
        }
    }

    /// The current refill of `action`'s request bucket (after adaptation), per second.
    pub fn refill_per_sec(&self, action: &str) -> Option<f64> {
        let mut buckets = self.buckets.lock().expect("budget lock");
        buckets.requests.get_mut(action).map(|b| {
            b.catch_up(Instant::now());
            b.refill_per_sec()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(capacity: f64, refill_per_sec: f64) -> Rate {
        Rate::new(capacity, refill_per_sec)
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_queued_slots_at_the_refill_rate() {
        let budget = Budget::new(1.0, &[("DescribeInstances".into(), rate(2.0, 10.0))]);
        let now = Instant::now();
        let waits: Vec<_> = (0..4)
            .map(|_| budget.reserve("DescribeInstances", 0, None, now).unwrap())
            .collect();
        let ms: Vec<_> = waits.iter().map(|w| w.as_millis()).collect();
        assert_eq!(ms, [0, 0, 102, 202]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_past_the_deadline_fails_fast_and_takes_nothing() {
        let budget = Budget::new(1.0, &[("RunInstances".into(), rate(1.0, 1.0))]);
        let now = Instant::now();
        budget.reserve("RunInstances", 1, None, now).unwrap();
        let err = budget
            .reserve(
                "RunInstances",
                1,
                Some(now + Duration::from_millis(500)),
                now,
            )
            .unwrap_err();
        match err {
            Error::BudgetExhausted { retry_after, .. } => {
                assert_eq!(retry_after.as_millis(), 1020)
            }
            other => panic!("{other:?}"),
        }
        // Nothing was taken: a caller with time to wait gets the slot at 1 s.
        let wait = budget.reserve("RunInstances", 1, None, now).unwrap();
        assert_eq!(wait.as_millis(), 1020);
    }

    #[tokio::test(start_paused = true)]
    async fn instance_buckets_count_instances_and_share_scales_everything() {
        let budget = Budget::new(0.5, &[]);
        let now = Instant::now();
        // Half of StopInstances' 1000-instance bucket is 500: a stop of 500 passes, the next
        // instance waits 1/10 s (half of 20 per second).
        assert_eq!(
            budget.reserve("StopInstances", 500, None, now).unwrap(),
            Duration::ZERO
        );
        let wait = budget.reserve("StopInstances", 1, None, now).unwrap();
        assert_eq!(wait.as_millis(), 102);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_refill() {
        let budget = Budget::new(1.0, &[]);
        assert_eq!(budget.refill_per_sec("DescribeInstances"), Some(20.0));
        budget.throttled("DescribeInstances");
        let after = budget.refill_per_sec("DescribeInstances").unwrap();
        assert!((10.0..10.1).contains(&after), "{after}");
    }

    /// `acquire` on the paused clock: a caller waits exactly for its slot (the clock moves only
    /// as far as the wait), a caller whose deadline the slot misses is refused without waiting,
    /// and the refill after a pause lets the next call through at once.
    #[tokio::test(start_paused = true)]
    async fn acquire_waits_for_the_slot_and_refuses_what_cannot_fit_the_deadline() {
        let budget = Budget::new(1.0, &[("RunInstances".into(), rate(1.0, 2.0))]);
        let start = Instant::now();
        assert_eq!(
            budget.acquire("RunInstances", 0, None).await.unwrap(),
            Duration::ZERO
        );
        let waited = budget.acquire("RunInstances", 0, None).await.unwrap();
        assert_eq!(waited.as_millis(), 510);
        assert_eq!(Instant::now() - start, waited, "slept exactly the wait");

        let before = Instant::now();
        let deadline = Some(before + Duration::from_millis(600));
        let refused = budget
            .acquire("RunInstances", 0, deadline)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, Error::BudgetExhausted { .. }),
            "{refused:?}"
        );
        assert_eq!(Instant::now(), before, "a refusal does not wait");

        tokio::time::advance(Duration::from_secs(5)).await;
        let deadline = Some(Instant::now() + Duration::from_millis(600));
        assert_eq!(
            budget.acquire("RunInstances", 0, deadline).await.unwrap(),
            Duration::ZERO
        );
    }

    /// The refill recovers after throttling by 1% of the rate per second, on the paused clock.
    #[tokio::test(start_paused = true)]
    async fn a_throttled_refill_recovers_with_time() {
        let budget = Budget::new(1.0, &[]);
        budget.throttled("DescribeInstances");
        tokio::time::advance(Duration::from_secs(10)).await;
        let after = budget.refill_per_sec("DescribeInstances").unwrap();
        assert!((11.99..12.01).contains(&after), "{after}");
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(budget.refill_per_sec("DescribeInstances"), Some(20.0));
    }
}
