//! Coalescing identical describes: while one EC2 describe page is in flight, an identical
//! request (same normalized ids, filters, page and flags) waits for that call's answer instead
//! of making another. The shared call runs in its own task, so a leader that goes away does
//! not strand the callers waiting on it; it carries the leader's call context (deadline, span).

use crate::call::{self, Call};
use crate::error::Error;
use crate::protection::stats::Stats;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Callers waiting for the one in-flight call of each key.
type Waiters<V> = HashMap<String, Vec<oneshot::Sender<Result<V, Error>>>>;

/// One in-flight call per key; everyone with that key gets its answer.
#[derive(Debug)]
pub struct SingleFlight<V> {
    inflight: Mutex<Waiters<V>>,
    stats: Arc<Stats>,
}

impl<V: Clone + Send + 'static> SingleFlight<V> {
    /// No call in flight yet.
    pub fn new(stats: Arc<Stats>) -> Arc<Self> {
        Arc::new(SingleFlight {
            inflight: Mutex::new(HashMap::new()),
            stats,
        })
    }

    /// The answer of `call` for `key`: made now, or shared with the identical call in flight.
    pub async fn run<F>(self: &Arc<Self>, key: String, call: F) -> Result<V, Error>
    where
        F: Future<Output = Result<V, Error>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut inflight = self.inflight.lock().expect("single-flight lock");
            match inflight.get_mut(&key) {
                Some(waiters) => {
                    waiters.push(tx);
                    false
                }
                None => {
                    inflight.insert(key.clone(), vec![tx]);
                    true
                }
            }
        };
        if lead {
            let this = self.clone();
            tokio::spawn(call::within(Call::current(), async move {
                let answer = call.await;
                let mut waiters = this
                    .inflight
                    .lock()
                    .expect("single-flight lock")
                    .remove(&key)
                    .unwrap_or_default();
                // Everyone but the last gets a copy; the last gets the answer itself (a lone
                // caller, the usual case, copies nothing: a page can hold 1,000 instances).
                if let Some(last) = waiters.pop() {
                    for waiter in waiters {
                        let _ = waiter.send(answer.clone());
                    }
                    let _ = last.send(answer);
                }
            }));
        } else {
            self.stats.coalesced(1);
        }
        rx.await.unwrap_or_else(|_| {
            Err(Error::Internal(
                "the shared EC2 call ended without an answer".into(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// On the paused clock, the shared call holds its 50 ms while every other caller joins.
    #[tokio::test(start_paused = true)]
    async fn identical_concurrent_calls_share_one() {
        let stats = Arc::new(Stats::default());
        let flight = SingleFlight::<u32>::new(stats.clone());
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let flight = flight.clone();
                let calls = calls.clone();
                tokio::spawn(async move {
                    flight
                        .run("same".into(), async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok(7)
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(stats.snapshot().coalesced_calls, 49);
    }
}
