//! `WaitInstances`: botocore's instance waiters (`waiters-2.json`), served from the view.
//!
//! Where boto3 polls DescribeInstances every 15 s, a wait here re-evaluates the selection on
//! the view each time the view changes, so waiting costs EC2 nothing beyond the view's own
//! refreshes. The acceptors are botocore's: InstanceExists succeeds once every named instance
//! is listed (with filters only: once one matches); InstanceRunning fails on shutting-down,
//! terminated or stopping; InstanceStopped on pending or terminated; InstanceTerminated on
//! pending or stopping. As with botocore's `pathAll`, a selection by filters that matches
//! nothing is not done yet.
//!
//! The waits on status checks (STATUS_OK, SYSTEM_STATUS_OK: boto3's `instance_status_ok` and
//! `system_status_ok`) select on the view too, but read the checks from the target's status
//! rounds (`inventory::status_checks`): one DescribeInstanceStatus per interval for them all.

use super::stream::MessageStream;
use crate::auth::scope::TagScope;
use crate::call::Call;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::inventory::filter::Selector;
use crate::inventory::status_checks::{StatusWaiter, Statuses};
use crate::inventory::view::{Entry, View};
use crate::pb;
use crate::pb::WaitTarget;
use crate::telemetry::metrics::{Open, instruments};
use futures_util::stream;
use std::collections::HashSet;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tonic::Status;

/// Most not-ready instances named in one progress message.
const NOT_READY_SAMPLE: usize = 100;

/// Starts a validated wait for `request` within `scope`.
pub fn wait_instances(
    inventory: &Inventory,
    request: pb::WaitInstancesRequest,
    scope: Option<TagScope>,
) -> Result<MessageStream<pb::WaitInstancesResponse>, Error> {
    let selector = Selector::new(&request.instance_ids, &request.filters, scope.as_ref())?;
    let mut seen = HashSet::new();
    let named: Vec<String> = request
        .instance_ids
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect();
    let target = WaitTarget::try_from(request.target).unwrap_or_default();
    let status = match target {
        WaitTarget::StatusOk | WaitTarget::SystemStatusOk => {
            Some(inventory.status_checks()?.join())
        }
        _ => None,
    };
    let waiter = Waiter {
        status,
        inventory: inventory.clone(),
        updates: inventory.subscribe(),
        selector,
        named,
        target,
        deadline: Call::deadline(),
        last: None,
        over: false,
        _open: Open::count(&instruments().inventory_waiters),
    };
    Ok(Box::pin(stream::unfold(waiter, |mut waiter| async move {
        let message = waiter.next().await?;
        Some((message.map_err(Status::from), waiter))
    })))
}

/// One wait's state.
struct Waiter {
    inventory: Inventory,
    /// The status rounds, for a wait on status checks.
    status: Option<StatusWaiter>,
    /// Tells of every update of the view.
    updates: watch::Receiver<u64>,
    selector: Selector,
    /// The named ids, each once, in the order given.
    named: Vec<String>,
    target: WaitTarget,
    /// The caller's deadline.
    deadline: Option<Instant>,
    /// The last progress sent (without its revision), to send only changes.
    last: Option<pb::WaitInstancesResponse>,
    /// Done, or failed: nothing follows.
    over: bool,
    _open: Open,
}

impl Waiter {
    async fn next(&mut self) -> Option<Result<pb::WaitInstancesResponse, Error>> {
        if self.over {
            return None;
        }
        let result = self.advance().await;
        self.over = !matches!(&result, Ok(progress) if !progress.done);
        Some(result)
    }

    /// The next progress that differs from the last one sent.
    async fn advance(&mut self) -> Result<pb::WaitInstancesResponse, Error> {
        let late = self.late();
        until(&self.inventory, self.deadline, late, self.inventory.ready()).await?;
        if self.status.is_some() {
            return self.advance_on_status().await;
        }
        loop {
            self.updates.mark_unchanged();
            let progress = self.inventory.read(|view| self.progress(view, None))?;
            if !self.unchanged(&progress) {
                self.last = Some(progress.clone());
                return Ok(progress);
            }
            let late = self.late();
            let changed =
                until(&self.inventory, self.deadline, late, self.updates.changed()).await?;
            if changed.is_err() {
                return Err(Error::Internal("the instance view stopped".into()));
            }
        }
    }

    /// The next progress of a wait on status checks that differs from the last one sent: at
    /// each status round, the selection (on the view) against the round's statuses.
    async fn advance_on_status(&mut self) -> Result<pb::WaitInstancesResponse, Error> {
        loop {
            self.updates.mark_unchanged();
            let wanted = self.inventory.read(|view| self.wanted(view))?;
            let late = self.late();
            if wanted.is_empty() {
                // Filters that match nothing yet: no status to ask for until the view changes.
                let changed =
                    until(&self.inventory, self.deadline, late, self.updates.changed()).await?;
                if changed.is_err() {
                    return Err(Error::Internal("the instance view stopped".into()));
                }
                continue;
            }
            let status = self.status.as_mut().expect("a wait on status checks");
            status.want(wanted);
            let round = until(&self.inventory, self.deadline, late, status.next_round()).await??;
            let statuses = match round.outcome {
                Some(Ok(statuses)) => statuses,
                Some(Err(refused)) => return Err(refused),
                None => continue,
            };
            let progress = self
                .inventory
                .read(|view| self.progress(view, Some(&statuses)))?;
            if !self.unchanged(&progress) || progress.done {
                self.last = Some(progress.clone());
                return Ok(progress);
            }
        }
    }

    /// The instances whose status checks the wait needs: the named ones, or what the
    /// selection matches now.
    fn wanted(&self, view: &View) -> Result<Vec<String>, Error> {
        if self.named.is_empty() {
            Ok(self
                .selector
                .select(view, None)
                .map(|e| e.id().to_owned())
                .collect())
        } else {
            self.selector.check_named(view, &self.named)?;
            Ok(self.named.clone())
        }
    }

    /// Whether `progress` says what the last one sent said (revisions aside).
    fn unchanged(&self, progress: &pb::WaitInstancesResponse) -> bool {
        self.last.as_ref().is_some_and(|last| {
            last.ready == progress.ready
                && last.selected == progress.selected
                && last.not_ready == progress.not_ready
                && last.advisories == progress.advisories
        })
    }

    /// The error of a wait whose deadline passes now.
    fn late(&self) -> Error {
        Error::WaitDeadlineExceeded {
            not_ready: self.last.as_ref().map_or(self.named.len(), |last| {
                usize::try_from(last.selected - last.ready).unwrap_or_default()
            }),
            target: target_name(self.target).to_owned(),
        }
    }

    /// Where the selection stands in `view`; an error when an instance can no longer reach
    /// the target (or is outside the caller's scope).
    fn progress(
        &self,
        view: &View,
        statuses: Option<&Statuses>,
    ) -> Result<pb::WaitInstancesResponse, Error> {
        // Named ids: each one, listed or not. Filters only: what matches now.
        let selected: Vec<(String, Option<&Entry>)> = if self.named.is_empty() {
            self.selector
                .select(view, None)
                .map(|e| (e.id().to_owned(), Some(&**e)))
                .collect()
        } else {
            self.selector.check_named(view, &self.named)?;
            self.named
                .iter()
                .map(|id| {
                    let entry = view
                        .get(id)
                        .map(|e| &**e)
                        .filter(|e| self.selector.matches(e));
                    (id.clone(), entry)
                })
                .collect()
        };
        let mut ready = 0;
        let mut not_ready = Vec::new();
        for (id, entry) in &selected {
            let state = entry.map(|e| e.state());
            if let Some(state) = state.filter(|s| fails(self.target, s)) {
                return Err(Error::WaitTargetUnreachable {
                    instance_id: id.clone(),
                    state: state.to_owned(),
                    target: target_name(self.target).to_owned(),
                });
            }
            let check = statuses.and_then(|s| s.get(id));
            let there = match (self.target, state) {
                (WaitTarget::StatusOk, _) => check.is_some_and(|c| is_ok(&c.instance_status)),
                (WaitTarget::SystemStatusOk, _) => check.is_some_and(|c| is_ok(&c.system_status)),
                (_, None) => false,
                (WaitTarget::Exists, Some(_)) => true,
                (target, Some(state)) => state == target_name(target),
            };
            if there {
                ready += 1;
            } else if not_ready.len() < NOT_READY_SAMPLE {
                not_ready.push(pb::SelectedInstance {
                    instance_id: id.clone(),
                    state: entry.map(|e| e.facts().state.clone()),
                });
            }
        }
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        let advisories = selected
            .iter()
            .flat_map(|(id, _)| view.advisories(id))
            .map(|advisory| advisory.as_ref().clone())
            .collect();
        Ok(pb::WaitInstancesResponse {
            advisories,
            selected: count(selected.len()),
            ready: count(ready),
            done: !selected.is_empty() && ready == selected.len(),
            not_ready,
            revision: self.inventory.revision_token(view.revision()),
            dry_run_succeeded: false,
        })
    }
}

/// `future`, or `late` at `deadline`, or UNAVAILABLE when the replica shuts down.
async fn until<F: Future>(
    inventory: &Inventory,
    deadline: Option<Instant>,
    late: Error,
    future: F,
) -> Result<F::Output, Error> {
    let deadline = async {
        match deadline {
            Some(deadline) => sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        output = future => Ok(output),
        () = inventory.closed() => Err(Error::ShuttingDown),
        () = deadline => Err(late),
    }
}

/// Whether a status check (DescribeInstanceStatus' summary) says `ok`.
fn is_ok(summary: &Option<pb::InstanceStatusSummary>) -> bool {
    summary.as_ref().is_some_and(|s| s.status == "ok")
}

/// The state the target names (`exists` for EXISTS; what is checked, for the status checks).
fn target_name(target: WaitTarget) -> &'static str {
    match target {
        WaitTarget::StatusOk => "status ok",
        WaitTarget::SystemStatusOk => "system status ok",
        WaitTarget::Running => "running",
        WaitTarget::Stopped => "stopped",
        WaitTarget::Terminated => "terminated",
        WaitTarget::Exists | WaitTarget::Unspecified => "exists",
    }
}

/// botocore's failure acceptors: the states from which `target` cannot be reached.
fn fails(target: WaitTarget, state: &str) -> bool {
    let failing: &[&str] = match target {
        WaitTarget::Running => &["shutting-down", "terminated", "stopping"],
        WaitTarget::Stopped => &["pending", "terminated"],
        WaitTarget::Terminated => &["pending", "stopping"],
        WaitTarget::Exists
        | WaitTarget::StatusOk
        | WaitTarget::SystemStatusOk
        | WaitTarget::Unspecified => &[],
    };
    failing.contains(&state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::InventorySettings;
    use futures_util::StreamExt;

    fn entry(id: &str, state: &str) -> Entry {
        Entry::for_test(id, state, &[])
    }

    fn waiting(ids: &[&str], target: WaitTarget) -> pb::WaitInstancesRequest {
        pb::WaitInstancesRequest {
            instance_ids: ids.iter().map(|id| id.to_string()).collect(),
            target: target as i32,
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn progress_then_done_or_the_failure_acceptor() {
        let inventory = Inventory::new(InventorySettings::default());
        inventory.listed(
            vec![entry("i-1", "pending"), entry("i-2", "running")],
            Instant::now(),
        );
        let mut wait = wait_instances(
            &inventory,
            waiting(&["i-1", "i-2", "i-9"], WaitTarget::Running),
            None,
        )
        .unwrap();
        let first = wait.next().await.unwrap().unwrap();
        assert_eq!((first.selected, first.ready, first.done), (3, 1, false));
        let missing = first
            .not_ready
            .iter()
            .find(|s| s.instance_id == "i-9")
            .unwrap();
        assert!(missing.state.is_none(), "not in the view");
        inventory.observed(
            vec![entry("i-1", "running"), entry("i-9", "running")],
            Instant::now(),
        );
        let last = wait.next().await.unwrap().unwrap();
        assert!(last.done && last.ready == 3, "{last:?}");
        assert!(wait.next().await.is_none(), "done ends the stream");

        let mut doomed =
            wait_instances(&inventory, waiting(&["i-1"], WaitTarget::Stopped), None).unwrap();
        doomed.next().await.unwrap().unwrap();
        inventory.observed(vec![entry("i-1", "terminated")], Instant::now());
        let failed = doomed.next().await.unwrap().unwrap_err();
        assert_eq!(failed.code(), tonic::Code::FailedPrecondition);
        assert!(failed.message().contains("i-1"), "{failed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn status_waits_read_the_status_rounds() {
        use crate::inventory::status_checks::Poll;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        // Round 1: i-1 ok, i-2 still initializing; round 2: both ok.
        let poll: Poll = Arc::new(move |ids: Vec<String>| {
            let round = counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                Ok(ids
                    .into_iter()
                    .map(|id| {
                        let ok = round > 0 || id == "i-1";
                        let summary = pb::InstanceStatusSummary {
                            status: if ok { "ok" } else { "initializing" }.into(),
                            ..Default::default()
                        };
                        let status = pb::InstanceStatus {
                            instance_id: id.clone(),
                            instance_status: Some(summary),
                            ..Default::default()
                        };
                        (id, status)
                    })
                    .collect())
            })
        });
        let inventory = Inventory::new(InventorySettings::default()).with_status_checks(poll);
        inventory.listed(
            vec![entry("i-1", "running"), entry("i-2", "running")],
            Instant::now(),
        );
        let mut wait = wait_instances(
            &inventory,
            waiting(&["i-1", "i-2"], WaitTarget::StatusOk),
            None,
        )
        .unwrap();
        let first = wait.next().await.unwrap().unwrap();
        assert_eq!((first.selected, first.ready, first.done), (2, 1, false));
        assert_eq!(first.not_ready[0].instance_id, "i-2");
        let last = wait.next().await.unwrap().unwrap();
        assert!(last.done, "{last:?}");
        assert_eq!(rounds.load(Ordering::SeqCst), 2);
        assert!(wait.next().await.is_none());

        let mut system = wait_instances(
            &inventory,
            waiting(&["i-1"], WaitTarget::SystemStatusOk),
            None,
        )
        .unwrap();
        let never = system.next().await.unwrap().unwrap();
        assert!(!never.done, "no system status in these rounds: {never:?}");
    }

    #[test]
    fn failure_acceptors_are_botocores() {
        assert!(fails(WaitTarget::Running, "stopping") && !fails(WaitTarget::Running, "pending"));
        assert!(fails(WaitTarget::Stopped, "pending") && !fails(WaitTarget::Stopped, "stopping"));
        assert!(
            fails(WaitTarget::Terminated, "stopping")
                && !fails(WaitTarget::Terminated, "shutting-down")
        );
        assert!(!fails(WaitTarget::Exists, "terminated"));
    }
}
