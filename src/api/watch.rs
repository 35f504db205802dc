//! `WatchInstances`: Kubernetes' list + watch over the replica's instance view.
//!
//! A watch lists the matching instances as ADDED (a snapshot of the view at one revision,
//! sent as the client reads), says INITIAL_LIST_COMPLETE, then follows the view's history
//! from that revision: each change becomes ADDED, MODIFIED or DELETED for this watcher
//! according to whether the instance matched before and after it (an instance that leaves
//! the filters is DELETED here), and a BOOKMARK goes out every `bookmark_interval`. The
//! history is the only buffer: a watcher that falls further behind than it reaches (or
//! resumes from a revision it no longer holds) gets REVISION_EXPIRED and lists again.

use super::stream::MessageStream;
use crate::auth::scope::TagScope;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::inventory::filter::Selector;
use crate::inventory::view::{Change, Entry};
use crate::pb;
use crate::pb::WatchEventType;
use crate::telemetry::metrics::{Open, instruments};
use futures_util::stream;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tonic::Status;

/// BOOKMARK period when the request sets none.
const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);
/// Most history changes examined under one hold of the view's lock.
const CHANGES_PER_READ: usize = 1000;

/// Starts a validated watch of `request` within `scope`.
pub fn watch_instances(
    inventory: &Inventory,
    request: pb::WatchInstancesRequest,
    scope: Option<TagScope>,
) -> Result<MessageStream<pb::WatchInstancesResponse>, Error> {
    let selector = Selector::new(&request.instance_ids, &request.filters, scope.as_ref())?;
    let resume = match request.revision.as_str() {
        "" => None,
        token => Some(inventory.parse_revision(token)?),
    };
    let every = request
        .bookmark_interval
        .map_or(DEFAULT_BOOKMARK_INTERVAL, |d| {
            Duration::new(d.seconds.unsigned_abs(), d.nanos.unsigned_abs())
        });
    let watcher = Watcher {
        inventory: inventory.clone(),
        updates: inventory.subscribe(),
        selector,
        named: request.instance_ids,
        resume,
        delivered: None,
        listing: VecDeque::new(),
        queue: VecDeque::new(),
        bookmark_every: every,
        next_bookmark: Instant::now() + every,
        failed: false,
        _open: Open::count(&instruments().inventory_watchers),
    };
    Ok(Box::pin(stream::unfold(
        watcher,
        |mut watcher| async move {
            let message = watcher.next().await?;
            Some((message.map_err(Status::from), watcher))
        },
    )))
}

/// One watch's state.
struct Watcher {
    inventory: Inventory,
    /// Tells of every update of the view.
    updates: watch::Receiver<u64>,
    selector: Selector,
    /// The ids the request named.
    named: Vec<String>,
    /// The revision to resume from, until the watch has started.
    resume: Option<u64>,
    /// The revision up to which the history was examined; `None` until started.
    delivered: Option<u64>,
    /// The initial list still to send (a snapshot: entries never change).
    listing: VecDeque<Arc<Entry>>,
    /// Messages ready to send after the listing.
    queue: VecDeque<pb::WatchInstancesResponse>,
    bookmark_every: Duration,
    next_bookmark: Instant,
    /// An error was sent: the stream is over.
    failed: bool,
    /// Counts the watch as open while it lives.
    _open: Open,
}

impl Watcher {
    /// The next message; waits for the view when nothing is due.
    async fn next(&mut self) -> Option<Result<pb::WatchInstancesResponse, Error>> {
        if self.failed {
            return None;
        }
        let result = self.advance().await;
        self.failed = result.is_err();
        Some(result)
    }

    async fn advance(&mut self) -> Result<pb::WatchInstancesResponse, Error> {
        if self.delivered.is_none() {
            let inventory = self.inventory.clone();
            tokio::select! {
                started = self.start() => started?,
                () = inventory.closed() => return Err(Error::ShuttingDown),
            }
        }
        loop {
            if let Some(entry) = self.listing.pop_front() {
                return Ok(self.event(WatchEventType::Added, &entry, self.revision()));
            }
            if let Some(message) = self.queue.pop_front() {
                return Ok(message);
            }
            if self.follow_history()? {
                continue;
            }
            tokio::select! {
                changed = self.updates.changed() => {
                    if changed.is_err() {
                        return Err(Error::Internal("the instance view stopped".into()));
                    }
                }
                () = sleep_until(self.next_bookmark) => {
                    self.next_bookmark = Instant::now() + self.bookmark_every;
                    return Ok(self.marker(WatchEventType::Bookmark));
                }
                () = self.inventory.closed() => return Err(Error::ShuttingDown),
            }
        }
    }

    /// Waits for the view's first list, then takes the initial snapshot (or checks the
    /// revision to resume from).
    async fn start(&mut self) -> Result<(), Error> {
        self.inventory.ready().await;
        let (listing, revision) = self.inventory.read(|view| -> Result<_, Error> {
            self.selector.check_named(view, &self.named)?;
            if let Some(from) = self.resume {
                view.changes_after(from)
                    .map(drop)
                    .map_err(|expired| Error::RevisionExpired {
                        revision: self.inventory.revision_token(from),
                        detail: format!(
                            "this replica keeps revisions from {} to {}",
                            self.inventory.revision_token(expired.oldest),
                            self.inventory.revision_token(expired.current)
                        ),
                    })?;
                return Ok((VecDeque::new(), from));
            }
            let listing = self.selector.select(view, None).cloned().collect();
            Ok((listing, view.revision()))
        })?;
        self.delivered = Some(revision);
        if self.resume.is_none() {
            self.listing = listing;
            self.queue
                .push_back(self.marker(WatchEventType::InitialListComplete));
        }
        Ok(())
    }

    /// Queues this watcher's events of the changes after `delivered`; false when there were
    /// none to examine.
    fn follow_history(&mut self) -> Result<bool, Error> {
        let from = self.revision();
        let changes: Vec<Arc<Change>> = self.inventory.read(|view| {
            view.changes_after(from)
                .map(|changes| changes.take(CHANGES_PER_READ).cloned().collect())
                .map_err(|_| Error::RevisionExpired {
                    revision: self.inventory.revision_token(from),
                    detail: "the watch fell behind the history this replica keeps".into(),
                })
        })?;
        let Some(last) = changes.last().map(|c| c.revision) else {
            return Ok(false);
        };
        for change in &changes {
            if let Some(advisory) = &change.advisory {
                if let Some(entry) = change.after.as_ref().filter(|e| self.selector.matches(e)) {
                    let mut message = self.event(WatchEventType::Advisory, entry, change.revision);
                    message.advisory = Some(advisory.as_ref().clone());
                    self.queue.push_back(message);
                }
                continue;
            }
            let before = change.before.as_ref().filter(|e| self.selector.matches(e));
            let after = change.after.as_ref().filter(|e| self.selector.matches(e));
            let (kind, entry) = match (before, after) {
                (None, Some(after)) => (WatchEventType::Added, after),
                (Some(_), Some(after)) => (WatchEventType::Modified, after),
                (Some(before), None) => (
                    WatchEventType::Deleted,
                    change.after.as_ref().unwrap_or(before),
                ),
                (None, None) => continue,
            };
            let message = self.event(kind, entry, change.revision);
            self.queue.push_back(message);
        }
        self.delivered = Some(last);
        Ok(true)
    }

    /// The revision examined so far.
    fn revision(&self) -> u64 {
        self.delivered.unwrap_or_default()
    }

    /// An event about `entry` at `revision`.
    fn event(
        &self,
        kind: WatchEventType,
        entry: &Entry,
        revision: u64,
    ) -> pb::WatchInstancesResponse {
        pb::WatchInstancesResponse {
            r#type: kind as i32,
            instance: Some(entry.instance()),
            reservation_id: entry.facts().reservation_id.clone(),
            revision: self.inventory.revision_token(revision),
            dry_run_succeeded: false,
            advisory: None,
        }
    }

    /// A message without an instance (list complete, bookmark) at the revision examined.
    fn marker(&self, kind: WatchEventType) -> pb::WatchInstancesResponse {
        pb::WatchInstancesResponse {
            r#type: kind as i32,
            revision: self.inventory.revision_token(self.revision()),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::InventorySettings;
    use futures_util::StreamExt;

    fn entry(id: &str, state: &str, team: &str) -> Entry {
        Entry::for_test(id, state, &[("team", team)])
    }

    fn kinds(messages: &[pb::WatchInstancesResponse]) -> Vec<(WatchEventType, String)> {
        messages
            .iter()
            .map(|m| {
                let id = m.instance.as_ref().map(|i| i.instance_id.clone());
                (m.r#type(), id.unwrap_or_default())
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn lists_then_follows_the_filter_and_bookmarks_on_the_paused_clock() {
        let inventory = Inventory::new(InventorySettings::default());
        inventory.listed(
            vec![
                entry("i-1", "running", "web"),
                entry("i-2", "running", "db"),
            ],
            Instant::now(),
        );
        let request = pb::WatchInstancesRequest {
            filters: vec![pb::Filter {
                name: "tag:team".into(),
                values: vec!["web".into()],
            }],
            bookmark_interval: Some(prost_types::Duration {
                seconds: 5,
                nanos: 0,
            }),
            ..Default::default()
        };
        let mut watch = watch_instances(&inventory, request, None).unwrap();
        let mut next = async || watch.next().await.unwrap().unwrap();
        let listed = vec![next().await, next().await];
        assert_eq!(
            kinds(&listed),
            [
                (WatchEventType::Added, "i-1".into()),
                (WatchEventType::InitialListComplete, String::new())
            ]
        );
        // i-1 leaves the filter (DELETED here), i-2 joins it (ADDED), i-3 never matches.
        inventory.observed(
            vec![
                entry("i-1", "running", "db"),
                entry("i-2", "stopped", "web"),
                entry("i-3", "running", "db"),
            ],
            Instant::now(),
        );
        let changes = vec![next().await, next().await];
        assert_eq!(
            kinds(&changes),
            [
                (WatchEventType::Deleted, "i-1".into()),
                (WatchEventType::Added, "i-2".into())
            ]
        );
        // Nothing else changes: a bookmark after 5 s (of paused time) at the view's revision
        // (i-3's change included: examined, though not sent to this watcher).
        let bookmark = next().await;
        assert_eq!(bookmark.r#type(), WatchEventType::Bookmark);
        assert_eq!(
            inventory.parse_revision(&bookmark.revision).unwrap(),
            inventory.read(|v| v.revision())
        );
    }
}
