//! Status checks for the waits on them (`WAIT_TARGET_STATUS_OK`, `_SYSTEM_STATUS_OK`, boto3's
//! `instance_status_ok` and `system_status_ok`). The view holds no status checks, so while
//! anyone waits on them one poller asks EC2's DescribeInstanceStatus about the union of the
//! waited instances, once per interval: where each boto3 waiter polls on its own every 15 s,
//! every waiter of a target shares one call per interval. The first round comes soon after
//! the first waiter arrives (`FIRST_ROUND`, so one already there is not kept waiting), the
//! next ones every interval, and the poller stops when nobody waits.

use crate::convert::lookup_shapes::instance_status;
use crate::ec2::Ec2;
use crate::error::Error;
use crate::pb;
use futures_util::future::BoxFuture;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The statuses of a round, by instance id (instances EC2 did not list are absent).
pub type Statuses = HashMap<String, pb::InstanceStatus>;

/// One DescribeInstanceStatus round about these ids: the seam EC2 sits behind.
pub type Poll =
    Arc<dyn Fn(Vec<String>) -> BoxFuture<'static, Result<Statuses, Error>> + Send + Sync>;

/// How soon after the first waiter arrives the first round is (at most the interval).
pub const FIRST_ROUND: Duration = Duration::from_secs(1);

/// Most ids DescribeInstanceStatus takes by id; more waited instances are found by listing.
pub const MAX_IDS_PER_CALL: usize = 100;

/// A round's outcome, as waiters see it.
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// Rounds so far (0: none yet).
    pub number: u64,
    /// The statuses, or EC2's refusal.
    pub outcome: Option<Result<Arc<Statuses>, Error>>,
}

/// The poller of a target (cheap to clone).
#[derive(Clone)]
pub struct StatusChecks {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for StatusChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusChecks")
            .field("interval", &self.shared.interval)
            .finish()
    }
}

/// What the poller and its waiters share.
struct Shared {
    poll: Poll,
    interval: Duration,
    state: Mutex<State>,
    rounds: watch::Sender<Round>,
}

/// Who waits on what, and whether the poller runs.
#[derive(Default)]
struct State {
    /// Each waiter's instance ids.
    wanted: HashMap<u64, Vec<String>>,
    /// The next waiter's number.
    next_waiter: u64,
    /// Whether the poller task runs.
    polling: bool,
}

impl StatusChecks {
    /// A poller asking `poll` every `interval` while anyone waits.
    pub fn new(poll: Poll, interval: Duration) -> StatusChecks {
        StatusChecks {
            shared: Arc::new(Shared {
                poll,
                interval,
                state: Mutex::new(State::default()),
                rounds: watch::channel(Round::default()).0,
            }),
        }
    }

    /// Joins the rounds; the waiter says which ids it waits on with `StatusWaiter::want`.
    pub fn join(&self) -> StatusWaiter {
        let mut state = self.shared.state.lock().expect("status checks lock");
        let number = state.next_waiter;
        state.next_waiter += 1;
        StatusWaiter {
            checks: self.clone(),
            number,
            rounds: self.shared.rounds.subscribe(),
        }
    }

    /// The poller: rounds while anyone waits on something.
    fn start(&self) {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(FIRST_ROUND.min(shared.interval)).await;
            loop {
                let ids: Vec<String> = {
                    let mut state = shared.state.lock().expect("status checks lock");
                    let ids: BTreeSet<&String> = state.wanted.values().flatten().collect();
                    if ids.is_empty() {
                        state.polling = false;
                        return;
                    }
                    ids.into_iter().cloned().collect()
                };
                let outcome = (shared.poll)(ids).await.map(Arc::new);
                shared.rounds.send_modify(|round| {
                    round.number += 1;
                    round.outcome = Some(outcome);
                });
                tokio::time::sleep(shared.interval).await;
            }
        });
    }
}

/// One waiter's part in the rounds; leaves them when dropped.
pub struct StatusWaiter {
    checks: StatusChecks,
    number: u64,
    rounds: watch::Receiver<Round>,
}

impl StatusWaiter {
    /// Waits on `ids` from the next round on (starting the poller if it was idle).
    pub fn want(&self, ids: Vec<String>) {
        let mut state = self.checks.shared.state.lock().expect("status checks lock");
        state.wanted.insert(self.number, ids);
        if !state.polling {
            state.polling = true;
            self.checks.start();
        }
    }

    /// The next round after the last one this waiter saw.
    pub async fn next_round(&mut self) -> Result<Round, Error> {
        self.rounds
            .changed()
            .await
            .map_err(|_| Error::Internal("the status checks stopped".into()))?;
        Ok(self.rounds.borrow_and_update().clone())
    }
}

impl Drop for StatusWaiter {
    fn drop(&mut self) {
        let mut state = self.checks.shared.state.lock().expect("status checks lock");
        state.wanted.remove(&self.number);
    }
}

/// DescribeInstanceStatus through `ec2` (its budget and the SDK's timeouts: the rounds serve
/// many callers, so no one caller's deadline applies), every instance state
/// included: by ids for up to `MAX_IDS_PER_CALL`, else (or when an id is not found yet, which
/// EC2 answers for the whole call) every page of the account's statuses.
pub fn ec2_poll(ec2: Ec2) -> Poll {
    Arc::new(move |ids: Vec<String>| {
        let ec2 = ec2.clone();
        Box::pin(async move {
            if ids.len() <= MAX_IDS_PER_CALL {
                let by_ids = ec2
                    .client
                    .describe_instance_status()
                    .set_instance_ids(Some(ids))
                    .include_all_instances(true)
                    .send()
                    .await
                    .map_err(Error::from);
                match by_ids {
                    Ok(output) => return Ok(statuses(output.instance_statuses)),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            let mut all = Statuses::new();
            let mut pages = ec2
                .client
                .describe_instance_status()
                .include_all_instances(true)
                .max_results(1000)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                all.extend(statuses(page.map_err(Error::from)?.instance_statuses));
            }
            Ok(all)
        })
    })
}

/// EC2's statuses by instance id.
fn statuses(listed: Option<Vec<aws_sdk_ec2::types::InstanceStatus>>) -> Statuses {
    listed
        .into_iter()
        .flatten()
        .map(instance_status)
        .map(|status| (status.instance_id.clone(), status))
        .collect()
}

/// EC2's answer for an instance id it does not know (yet: right after a launch).
fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::Ec2 { code, .. } if code == "InvalidInstanceID.NotFound")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A poll answering `ok` for every id, counting its calls and the ids asked.
    fn counting() -> (Poll, Arc<AtomicUsize>, Arc<Mutex<Vec<usize>>>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (c, a) = (calls.clone(), asked.clone());
        let poll: Poll = Arc::new(move |ids: Vec<String>| {
            c.fetch_add(1, Ordering::SeqCst);
            a.lock().unwrap().push(ids.len());
            Box::pin(async move {
                Ok(ids
                    .into_iter()
                    .map(|id| {
                        let status = pb::InstanceStatus {
                            instance_id: id.clone(),
                            ..Default::default()
                        };
                        (id, status)
                    })
                    .collect())
            })
        });
        (poll, calls, asked)
    }

    #[tokio::test(start_paused = true)]
    async fn every_waiter_shares_one_call_per_interval_and_the_poller_stops_when_none_wait() {
        let (poll, calls, asked) = counting();
        let checks = StatusChecks::new(poll, Duration::from_secs(15));
        let mut waiters: Vec<StatusWaiter> = (0..200)
            .map(|n| {
                let waiter = checks.join();
                waiter.want(vec![format!("i-{n}")]);
                waiter
            })
            .collect();
        for round in 1..=3 {
            for waiter in &mut waiters {
                let seen = waiter.next_round().await.unwrap();
                assert_eq!(seen.number, round);
                assert_eq!(seen.outcome.unwrap().unwrap().len(), 200);
            }
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3, "one call per round");
        assert_eq!(*asked.lock().unwrap(), [200, 200, 200]);
        drop(waiters);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3, "no waiter, no round");
    }
}
