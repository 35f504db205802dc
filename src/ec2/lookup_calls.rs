//! The lookups' EC2 calls: identical describes in flight share one call, and the answers of
//! slow-changing lookups (instance types, zones, images) are kept, so a caller allowing an
//! answer of some age (`max_staleness`) costs EC2 nothing. Answers are type-erased here (each
//! lookup downcasts its own), so one keeper serves every lookup of a target.

use super::coalesce::SingleFlight;
use crate::error::Error;
use crate::protection::stats::Stats;
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A lookup's answer, shared by every caller it serves.
pub type Shared = Arc<dyn Any + Send + Sync>;

/// Answers kept per target, at most; the oldest leaves first. With `KEPT_ITEMS`, this bounds
/// the memory: 256 answers of at most 1,000 items.
pub const KEPT_ANSWERS: usize = 256;

/// The largest answer kept, in items: a bigger one (an unpaged DescribeImages of every public
/// image) is served, not kept.
pub const KEPT_ITEMS: usize = 1000;

/// The kept answers: when each was fetched, oldest first.
#[derive(Default)]
struct Kept {
    /// Key -> (fetched at, answer).
    answers: HashMap<String, (Instant, Shared)>,
    /// Keys in the order they were fetched.
    order: VecDeque<String>,
}

/// One target's lookup calls: in flight and kept.
pub struct LookupCalls {
    /// Identical calls in flight.
    flight: Arc<SingleFlight<Shared>>,
    /// Answers kept for `max_staleness`.
    kept: Mutex<Kept>,
}

impl std::fmt::Debug for LookupCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.lock().expect("kept answers lock").answers.len();
        f.debug_struct("LookupCalls").field("kept", &kept).finish()
    }
}

impl LookupCalls {
    /// Nothing in flight or kept.
    pub fn new(stats: Arc<Stats>) -> LookupCalls {
        LookupCalls {
            flight: SingleFlight::new(stats),
            kept: Mutex::new(Kept::default()),
        }
    }

    /// The answer of `call` for `key`: made now, or shared with the identical call in flight.
    pub async fn run<F>(&self, key: String, call: F) -> Result<Shared, Error>
    where
        F: Future<Output = Result<Shared, Error>> + Send + 'static,
    {
        self.flight.run(key, call).await
    }

    /// The kept answer of `key` and its age, if it is at most `max_age` old.
    pub fn recall(&self, key: &str, max_age: Duration) -> Option<(Shared, Duration)> {
        let kept = self.kept.lock().expect("kept answers lock");
        let (fetched, answer) = kept.answers.get(key)?;
        let age = fetched.elapsed();
        (age <= max_age).then(|| (answer.clone(), age))
    }

    /// Keeps `answer` as the newest of `key` (the caller checks it is at most `KEPT_ITEMS`),
    /// letting the oldest go past `KEPT_ANSWERS`.
    pub fn keep(&self, key: String, answer: Shared) {
        let mut kept = self.kept.lock().expect("kept answers lock");
        let Kept { answers, order } = &mut *kept;
        if answers
            .insert(key.clone(), (Instant::now(), answer))
            .is_some()
        {
            order.retain(|k| *k != key);
        }
        order.push_back(key);
        while order.len() > KEPT_ANSWERS {
            if let Some(oldest) = order.pop_front() {
                answers.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(n: u32) -> Shared {
        Arc::new(n)
    }

    #[tokio::test]
    async fn kept_answers_are_recalled_within_their_age_and_the_oldest_leave_first() {
        let calls = LookupCalls::new(Arc::new(Stats::default()));
        for n in 0..=KEPT_ANSWERS as u32 {
            let shared = calls
                .run(format!("k{n}"), async move { Ok(answer(n)) })
                .await
                .expect("answer");
            calls.keep(format!("k{n}"), shared);
        }
        let recalled = calls.recall("k1", Duration::from_secs(60)).expect("kept");
        assert_eq!(recalled.0.downcast::<u32>().ok().map(|n| *n), Some(1));
        assert!(
            calls.recall("k0", Duration::from_secs(60)).is_none(),
            "evicted"
        );
        assert!(calls.recall("k1", Duration::ZERO).is_none() || recalled.1.is_zero());
        calls
            .run("unkept".into(), async { Ok(answer(9)) })
            .await
            .expect("answer");
        assert!(calls.recall("unkept", Duration::from_secs(60)).is_none());
    }
}
