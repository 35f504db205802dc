//! The instance inventory: each replica's view of every instance of the account and region,
//! from which watches, waits and `max_staleness` reads are served with no EC2 call of their
//! own, so a thousand watchers cost EC2 what one poller costs.
//!
//! The view is kept by (`refresh`):
//! - a full list, paging DescribeInstances every `resync` (through the EC2 budget like any
//!   call); an instance it no longer lists is removed (EC2 lists a terminated one for about an
//!   hour, and the view keeps EC2's answer);
//! - a targeted refresh of the instances the gateway itself launched or acted on, at once and
//!   then every `refresh` until they settle (running, stopped or terminated), so a caller's
//!   own StartInstances shows up within moments.
//!
//! Each change gets the next revision (`view`); revisions are per replica (`revision`), as
//! Kubernetes' resource versions are per etcd. `filter` evaluates EC2's filters on the view.
//! The model: Kubernetes list + watch, Karpenter's instance cache, Netflix Edda.

pub mod filter;
mod refresh;
pub mod revision;
pub mod status_checks;
pub mod view;

use crate::ec2::Ec2;
use crate::error::Error;
use crate::pb;
use crate::telemetry::metrics::{instruments, with_target};
use opentelemetry::KeyValue;
use status_checks::StatusChecks;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use view::{Tally, View};

/// How the view is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventorySettings {
    /// Time between full lists.
    pub resync: Duration,
    /// Time between targeted refreshes of the instances the gateway acted on.
    pub refresh: Duration,
    /// Changes kept for watches to resume from.
    pub history: usize,
    /// Time between the status-check rounds of the waits on status checks (boto3's waiters
    /// poll every 15 s).
    pub status_interval: Duration,
    /// How long EC2's events gather before their instances are described (one
    /// DescribeInstances per window), where the target has an events queue.
    pub event_debounce: Duration,
}

impl Default for InventorySettings {
    fn default() -> Self {
        InventorySettings {
            resync: Duration::from_secs(60),
            refresh: Duration::from_secs(2),
            history: 10_000,
            status_interval: Duration::from_secs(15),
            event_debounce: Duration::from_millis(250),
        }
    }
}

/// The replica's instance view, shared by every RPC (cheap to clone).
#[derive(Debug, Clone)]
pub struct Inventory {
    shared: Arc<Shared>,
    /// The status checks of the waits on them, when the view is kept from EC2.
    status: Option<StatusChecks>,
}

/// What the RPCs and the refresh tasks share.
#[derive(Debug)]
struct Shared {
    /// The view.
    view: RwLock<View>,
    /// The view's revision, for watchers and waiters to wait on; it changes after every
    /// update (a full list with no change included, so readiness is seen too).
    revision: watch::Sender<u64>,
    /// Instances to refresh, with how many refreshes they have had.
    hot: Mutex<HashMap<String, u32>>,
    /// Wakes the targeted refresh.
    wake: Arc<Notify>,
    /// True once the replica shuts down: open watches and waits end.
    closing: watch::Sender<bool>,
    /// This view's epoch (see `revision`).
    epoch: u32,
    /// How the view is kept.
    settings: InventorySettings,
    /// The target's attributes on the view's instruments (its account and region).
    target: Vec<KeyValue>,
}

impl Inventory {
    /// An empty view, kept by nothing yet (`start` keeps it; tests feed it directly).
    pub fn new(settings: InventorySettings) -> Inventory {
        Inventory::of_target(settings, Vec::new())
    }

    /// An empty view whose instruments carry `target`'s attributes.
    fn of_target(settings: InventorySettings, target: Vec<KeyValue>) -> Inventory {
        let (revision, _) = watch::channel(0);
        Inventory {
            shared: Arc::new(Shared {
                view: RwLock::new(View::new(settings.history)),
                revision,
                hot: Mutex::new(HashMap::new()),
                wake: Arc::new(Notify::new()),
                closing: watch::Sender::new(false),
                epoch: rand_epoch(),
                settings,
                target,
            }),
            status: None,
        }
    }

    /// The view, kept from `ec2` by its refresh tasks (which stop once every handle is
    /// dropped). Must be called inside a tokio runtime.
    pub fn start(ec2: Ec2, settings: InventorySettings) -> Inventory {
        let mut inventory = Inventory::of_target(settings, ec2.stats.target_attributes().to_vec());
        inventory = inventory.with_status_checks(status_checks::ec2_poll(ec2.clone()));
        refresh::spawn(&inventory, ec2);
        inventory
    }

    /// The view, its waits on status checks asking `poll` (tests: a poll of their own).
    pub fn with_status_checks(mut self, poll: status_checks::Poll) -> Inventory {
        self.status = Some(StatusChecks::new(
            poll,
            self.shared.settings.status_interval,
        ));
        self
    }

    /// The status checks of the waits on them; FAILED_PRECONDITION when the view is not kept
    /// from EC2.
    pub fn status_checks(&self) -> Result<&StatusChecks, Error> {
        self.status.as_ref().ok_or(Error::InventoryOff)
    }

    /// Reads the view.
    pub fn read<R>(&self, read: impl FnOnce(&View) -> R) -> R {
        read(&self.shared.view.read().expect("view lock"))
    }

    /// A receiver that sees every update of the view.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.revision.subscribe()
    }

    /// Waits until the view's first full list is in.
    pub async fn ready(&self) {
        let mut updates = self.subscribe();
        while self.read(|v| v.listed_at().is_none()) {
            if updates.changed().await.is_err() {
                return;
            }
        }
    }

    /// Ends every open watch and wait (UNAVAILABLE, SHUTTING_DOWN): the replica is going
    /// away, and its clients should go to another one (and list again there).
    pub fn close(&self) {
        self.shared.closing.send_replace(true);
    }

    /// Completes once `close` was called.
    pub async fn closed(&self) {
        let mut closing = self.shared.closing.subscribe();
        let _ = closing.wait_for(|closing| *closing).await;
    }

    /// How old the view's last complete full list is; `None` before the first.
    pub fn staleness(&self) -> Option<Duration> {
        self.read(View::listed_at).map(|at| at.elapsed())
    }

    /// The token of revision `number`.
    pub fn revision_token(&self, number: u64) -> String {
        revision::token(self.shared.epoch, number)
    }

    /// The revision number `token` names, if this view issued it.
    pub fn parse_revision(&self, token: &str) -> Result<u64, Error> {
        revision::parse(token, self.shared.epoch)
    }

    /// Takes in the instances a RunInstances answered, and keeps refreshing them until they
    /// settle.
    pub fn launched(&self, reservation: &pb::Reservation) {
        let entries: Vec<view::Entry> = view::Entry::of_reservation(reservation.clone()).collect();
        let ids: Vec<String> = entries.iter().map(|e| e.id().to_owned()).collect();
        self.observed(entries, Instant::now());
        self.acted_on(&ids);
    }

    /// Refreshes the instances among `ids` at once, then until they settle: the gateway acted
    /// on them.
    pub fn acted_on(&self, ids: &[String]) {
        {
            let mut hot = self.shared.hot.lock().expect("hot lock");
            for id in ids.iter().filter(|id| id.starts_with("i-")) {
                hot.insert(id.clone(), 0);
            }
        }
        self.shared.wake.notify_one();
    }

    /// Applies a complete full list that started at `started`.
    pub fn listed(&self, entries: Vec<view::Entry>, started: Instant) {
        self.update(|view| view.apply_list(entries, started));
    }

    /// Describes `ids` at once through `ec2` (the target's seam, its budget) and applies the
    /// answer: an event said they changed. Answers the instances found, encoded as the view
    /// keeps them (for the other replicas); fails when EC2 could not be asked.
    pub async fn refresh(&self, ec2: &Ec2, ids: &[String]) -> Result<Vec<bytes::Bytes>, Error> {
        refresh::refresh_ids(self, ec2, ids).await
    }

    /// Takes in what EC2 says is coming for some instances (see `View::advise`).
    pub fn advise(&self, advisories: Vec<pb::Advisory>) {
        self.update(|view| view.advise(advisories));
    }

    /// Applies what EC2 answered at `at` about some instances.
    pub fn observed(&self, entries: Vec<view::Entry>, at: Instant) {
        self.update(|view| view.apply_observed(entries, at));
    }

    /// Updates the view, counts the changes and tells the watchers.
    fn update(&self, change: impl FnOnce(&mut View) -> Tally) {
        let (tally, revision, size) = {
            let mut view = self.shared.view.write().expect("view lock");
            let tally = change(&mut view);
            (tally, view.revision(), view.len())
        };
        let events = &instruments().inventory_events;
        for (kind, n) in [
            ("added", tally.added),
            ("modified", tally.modified),
            ("deleted", tally.deleted),
            ("advised", tally.advised),
        ] {
            if n > 0 {
                events.add(n, &self.labels([KeyValue::new("kind", kind)]));
            }
        }
        instruments()
            .inventory_instances
            .record(size as u64, &self.shared.target);
        self.shared.revision.send_replace(revision);
    }
}

impl Inventory {
    /// `own` attributes, then the target's.
    fn labels<const N: usize>(&self, own: [KeyValue; N]) -> Vec<KeyValue> {
        with_target(own, &self.shared.target)
    }
}

/// A random epoch, so revisions of different replicas and runs never look alike.
fn rand_epoch() -> u32 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}
