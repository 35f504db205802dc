//! The in-process EC2 budget (the default, and the shared budget's fallback): token buckets
//! in this replica's memory that mirror EC2's account buckets.
//!
//! Each EC2 call reserves one token of its action's request bucket (and, for launches, starts,
//! stops and terminations, one token per instance of the action's instance bucket). A bucket
//! short of tokens hands out a later slot: the call waits for it, if the wait fits the call's
//! deadline; otherwise it fails at once with UNAVAILABLE and a RetryInfo saying when a slot
//! opens. A throttling answer from EC2 halves the bucket's refill (other tools are using the
//! account), which then recovers by 1% of the configured rate per second.

use super::CALL_ALLOWANCE;
use super::bucket::Bucket;
use super::rates::{Rate, Rates};
use crate::error::Error;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The buckets of every action the gateway calls, in this replica.
#[derive(Debug)]
pub struct LocalBudget {
    /// Request buckets and instance buckets, by action, behind one lock: a reservation takes
    /// from both or from neither.
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    requests: HashMap<String, Bucket>,
    instances: HashMap<String, Bucket>,
}

impl LocalBudget {
    /// EC2's buckets scaled by `share` (the part of the account's rate this gateway may use;
    /// each replica's part when several run), with `overrides` replacing EC2's numbers.
    pub fn new(share: f64, overrides: &[(String, Rate)]) -> LocalBudget {
        LocalBudget::with_buckets(share, overrides, Bucket::new)
    }

    /// The same buckets, empty: they hand out their refill only, and a request bucket with a
    /// debt hands out nothing until that much of its refill has passed. The shared budget's
    /// fallback starts so: when Redis goes away the account's buckets may be spent, and the
    /// slots already promised (the debt) are still to come.
    pub fn drained(
        share: f64,
        overrides: &[(String, Rate)],
        debts: &HashMap<String, Duration>,
    ) -> LocalBudget {
        let budget = LocalBudget::with_buckets(share, overrides, Bucket::empty);
        {
            let mut buckets = budget.buckets.lock().expect("budget lock");
            for (action, debt) in debts {
                if let Some(bucket) = buckets.requests.get_mut(action) {
                    let owed = debt.as_secs_f64() * bucket.refill_per_sec();
                    bucket.take(owed);
                }
            }
        }
        budget
    }

    fn with_buckets(
        share: f64,
        overrides: &[(String, Rate)],
        bucket: fn(Rate, Instant) -> Bucket,
    ) -> LocalBudget {
        let now = Instant::now();
        let rates = Rates::new(share, overrides);
        let buckets = |rates: HashMap<String, Rate>| {
            rates
                .into_iter()
                .map(|(action, rate)| (action, bucket(rate, now)))
                .collect()
        };
        LocalBudget {
            buckets: Mutex::new(Buckets {
                requests: buckets(rates.requests),
                instances: buckets(rates.instances),
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
            wait = wait.max(b.wait_for((instances as f64).min(b.capacity())));
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
            b.throttled(now);
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
        let budget = LocalBudget::new(1.0, &[("DescribeInstances".into(), rate(2.0, 10.0))]);
        let now = Instant::now();
        let waits: Vec<_> = (0..4)
            .map(|_| budget.reserve("DescribeInstances", 0, None, now).unwrap())
            .collect();
        let ms: Vec<_> = waits.iter().map(|w| w.as_millis()).collect();
        assert_eq!(ms, [0, 0, 102, 202]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_past_the_deadline_fails_fast_and_takes_nothing() {
        let budget = LocalBudget::new(1.0, &[("RunInstances".into(), rate(1.0, 1.0))]);
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
        let budget = LocalBudget::new(0.5, &[]);
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
        let budget = LocalBudget::new(1.0, &[]);
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
        let budget = LocalBudget::new(1.0, &[("RunInstances".into(), rate(1.0, 2.0))]);
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
        let budget = LocalBudget::new(1.0, &[]);
        budget.throttled("DescribeInstances");
        tokio::time::advance(Duration::from_secs(10)).await;
        let after = budget.refill_per_sec("DescribeInstances").unwrap();
        assert!((11.99..12.01).contains(&after), "{after}");
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(budget.refill_per_sec("DescribeInstances"), Some(20.0));
    }

    /// A drained budget hands out its refill only, after its debt.
    #[tokio::test(start_paused = true)]
    async fn a_drained_budget_pays_its_debt_first() {
        let debts = HashMap::from([("DescribeInstances".to_owned(), Duration::from_secs(1))]);
        let budget = LocalBudget::drained(
            1.0,
            &[("DescribeInstances".into(), rate(10.0, 10.0))],
            &debts,
        );
        let start = Instant::now();
        let waited = budget.acquire("RunInstances", 0, None).await.unwrap();
        assert_eq!(
            waited.as_millis(),
            510,
            "no debt: the first token of 2 per second"
        );
        budget.acquire("DescribeInstances", 0, None).await.unwrap();
        assert_eq!(
            start.elapsed().as_millis(),
            1102,
            "a second of debt, then one token"
        );
    }
}
