//! The two tasks that keep the view: the full list every `resync`, and the targeted refresh
//! of the instances the gateway acted on. Both call EC2 through the gateway's seam, so every
//! page passes the EC2 budget like a caller's describe. They hold the view weakly and stop
//! once every `Inventory` handle is gone.

use super::view::Entry;
use super::{Inventory, Shared};
use crate::convert::instance;
use crate::ec2::{DescribePage, Ec2};
use crate::error::Error;
use crate::telemetry::metrics::instruments;
use aws_sdk_ec2::types::Filter;
use bytes::Bytes;
use opentelemetry::KeyValue;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::time::{Instant, sleep, sleep_until};

/// Page size of the full list (EC2's largest).
const LIST_PAGE_SIZE: i32 = 1000;
/// Most values of one EC2 filter: ids refreshed per describe.
const IDS_PER_DESCRIBE: usize = 200;
/// A refreshed instance leaves the refresh once it has settled after at least this many
/// refreshes (the first one may still show the state from before the action).
const MIN_REFRESHES: u32 = 1;
/// ... and in any case after this many (an instance EC2 keeps pending for long)...
const MAX_REFRESHES: u32 = 300;
/// ... or this many when EC2 never listed it (an id it does not know).
const MAX_UNSEEN_REFRESHES: u32 = 30;
/// The states an instance stays in until something acts on it.
const SETTLED: [&str; 3] = ["running", "stopped", "terminated"];

/// Starts both tasks for `inventory`.
pub(super) fn spawn(inventory: &Inventory, ec2: Ec2) {
    let weak = Arc::downgrade(&inventory.shared);
    tokio::spawn(list_every_resync(weak.clone(), ec2.clone()));
    let wake = inventory.shared.wake.clone();
    tokio::spawn(async move {
        loop {
            let Some(inventory) = upgrade(&weak) else {
                return;
            };
            refresh_acted_on(&inventory, &ec2).await;
            let period = inventory.shared.settings.refresh;
            drop(inventory);
            tokio::select! {
                () = sleep(period) => {}
                () = wake.notified() => {}
            }
        }
    });
}

/// A handle from the weak reference the tasks hold (without the status checks, which the
/// refresh does not use).
fn upgrade(weak: &Weak<Shared>) -> Option<Inventory> {
    weak.upgrade().map(|shared| Inventory {
        shared,
        status: None,
    })
}

/// Lists every instance every `resync` (the next list is due `resync` after the last one
/// started); a failed list is tried again after a quarter of that.
async fn list_every_resync(weak: Weak<Shared>, ec2: Ec2) {
    loop {
        let Some(inventory) = upgrade(&weak) else {
            return;
        };
        let resync = inventory.shared.settings.resync;
        let started = Instant::now();
        let next = match list_all(&ec2).await {
            Ok(entries) => {
                inventory.listed(entries, started);
                instruments()
                    .inventory_lists
                    .add(1, &inventory.labels([KeyValue::new("outcome", "ok")]));
                started + resync
            }
            Err(e) => {
                tracing::warn!("listing the account's instances failed: {e}");
                instruments()
                    .inventory_lists
                    .add(1, &inventory.labels([KeyValue::new("outcome", "error")]));
                Instant::now() + (resync / 4).max(Duration::from_secs(1))
            }
        };
        record_age(&inventory);
        drop(inventory);
        sleep_until(next).await;
    }
}

/// Every instance of the account, page by page.
async fn list_all(ec2: &Ec2) -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::new();
    let mut token = None;
    loop {
        let page = DescribePage {
            max_results: Some(LIST_PAGE_SIZE),
            next_token: token,
            ..DescribePage::default()
        };
        let output = ec2.describe_instances(page).await?;
        entries.extend(
            output
                .reservations
                .into_iter()
                .flatten()
                .flat_map(|r| Entry::of_reservation(instance::reservation(r))),
        );
        token = output.next_token.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(entries);
        }
    }
}

/// Describes the instances the gateway acted on (by the `instance-id` filter, which answers
/// an id EC2 does not list yet with nothing rather than an error), and lets those that
/// settled go.
async fn refresh_acted_on(inventory: &Inventory, ec2: &Ec2) {
    let ids: Vec<String> = {
        let hot = inventory.shared.hot.lock().expect("hot lock");
        hot.keys().cloned().collect()
    };
    for chunk in ids.chunks(IDS_PER_DESCRIBE) {
        let at = Instant::now();
        let found = match describe_ids(ec2, chunk).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("refreshing {} instances failed: {e}", chunk.len());
                continue;
            }
        };
        let states: HashMap<&str, &str> = found.iter().map(|e| (e.id(), e.state())).collect();
        let mut hot = inventory.shared.hot.lock().expect("hot lock");
        for id in chunk {
            if let Some(refreshes) = hot.get_mut(id) {
                *refreshes += 1;
                let state = states.get(id.as_str());
                let done = match state {
                    Some(state) => *refreshes >= MIN_REFRESHES && SETTLED.contains(state),
                    None => *refreshes >= MAX_UNSEEN_REFRESHES,
                };
                if done || *refreshes >= MAX_REFRESHES {
                    hot.remove(id);
                }
            }
        }
        drop(hot);
        inventory.observed(found, at);
    }
    record_age(inventory);
}

/// Describes `ids` once (by the `instance-id` filter: an id EC2 does not list yet, right
/// after a launch, is eventual consistency and answers nothing, not an error) and applies
/// what EC2 answered: the refresh an event asks for. An id not found is handed to the
/// targeted refresh, which describes it again until EC2 lists it (or gives up). Answers the
/// instances found, each as the view keeps it (a protobuf-encoded single-instance
/// reservation); fails on the first describe that fails.
pub(super) async fn refresh_ids(
    inventory: &Inventory,
    ec2: &Ec2,
    ids: &[String],
) -> Result<Vec<Bytes>, Error> {
    let mut refreshed = Vec::new();
    for chunk in ids.chunks(IDS_PER_DESCRIBE) {
        let at = Instant::now();
        let found = describe_ids(ec2, chunk).await?;
        let seen: HashSet<&str> = found.iter().map(Entry::id).collect();
        let unseen: Vec<String> = chunk
            .iter()
            .filter(|id| !seen.contains(id.as_str()))
            .cloned()
            .collect();
        refreshed.extend(found.iter().map(|e| e.encoded_reservation().clone()));
        inventory.observed(found, at);
        if !unseen.is_empty() {
            inventory.acted_on(&unseen);
        }
    }
    Ok(refreshed)
}

/// One DescribeInstances of `ids` (at most `IDS_PER_DESCRIBE`) by the `instance-id` filter.
async fn describe_ids(ec2: &Ec2, ids: &[String]) -> Result<Vec<Entry>, Error> {
    let page = DescribePage {
        filters: vec![
            Filter::builder()
                .name("instance-id")
                .set_values(Some(ids.to_vec()))
                .build(),
        ],
        ..DescribePage::default()
    };
    let output = ec2.describe_instances(page).await?;
    Ok(output
        .reservations
        .into_iter()
        .flatten()
        .flat_map(|r| Entry::of_reservation(instance::reservation(r)))
        .collect())
}

/// Records the view's age and size.
fn record_age(inventory: &Inventory) {
    if let Some(age) = inventory.staleness() {
        instruments()
            .inventory_list_age
            .record(age.as_secs_f64(), &inventory.shared.target);
    }
}
