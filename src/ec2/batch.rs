//! Merging describes by instance id: many callers each describing one or a few instances
//! (a fleet polling its own state) inside a short window share one DescribeInstances call.
//! The window closes after `idle` without a new request, after `max_wait` at most, or at
//! `max_ids` ids. Each caller gets the reservations of its own ids, and NOT_FOUND only when
//! one of its own ids is missing: when EC2 names missing ids, they are dropped and the rest
//! described again.
//!
//! Merging pays only when describes overlap, so a lone describe is not held: when no merged
//! call is in flight, nobody else is waiting, and the previous window held a single describe,
//! it goes to EC2 at once. Under a fleet's load, windows hold many describes and every
//! describe waits for its window.

use crate::error::Error;
use crate::protection::stats::Stats;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::types::Reservation;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Describes with at most this many ids are merged; larger ones go alone.
pub const MAX_IDS_PER_CALLER: usize = 20;

/// When a merge window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Close after this long without a new request.
    pub idle: Duration,
    /// Close this long after the first request at the latest.
    pub max_wait: Duration,
    /// Close at this many ids (at most 1000, EC2's limit).
    pub max_ids: usize,
}

/// The default window: 100 ms at most (so a describe waits at most that long for company, and
/// merged calls stay at 10 a second, half of DescribeInstances' refill), or 1000 ids (EC2's
/// most per call).
pub const DEFAULT_WINDOW: Window = Window {
    idle: Duration::from_millis(100),
    max_wait: Duration::from_millis(100),
    max_ids: 1000,
};

/// One caller's describe waiting in a window.
struct Pending {
    ids: Vec<String>,
    reply: oneshot::Sender<Result<DescribeInstancesOutput, Error>>,
}

/// The merging front of DescribeInstances by ids.
#[derive(Debug, Clone)]
pub struct IdBatcher {
    queue: mpsc::UnboundedSender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("ids", &self.ids).finish()
    }
}

/// Whether `id` looks like an instance id (a malformed one would fail everyone's call).
pub fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

impl IdBatcher {
    /// Starts the window task over `client`.
    pub fn start(client: aws_sdk_ec2::Client, window: Window, stats: Arc<Stats>) -> IdBatcher {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(collect(requests, client, window, stats));
        IdBatcher { queue }
    }

    /// Describes `ids` in the next merged call.
    pub async fn describe(&self, ids: Vec<String>) -> Result<DescribeInstancesOutput, Error> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { ids, reply })
            .map_err(|_| Error::Internal("the describe batcher stopped".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(Error::Internal("the merged describe was lost".into())))
    }
}

/// Gathers windows of requests and answers each window with one call.
async fn collect(
    mut requests: mpsc::UnboundedReceiver<Pending>,
    client: aws_sdk_ec2::Client,
    window: Window,
    stats: Arc<Stats>,
) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut previous_was_alone = true;
    while let Some(first) = requests.recv().await {
        let quiet =
            previous_was_alone && requests.is_empty() && in_flight.load(Ordering::Acquire) == 0;
        let batch = if quiet {
            vec![first]
        } else {
            gather(first, &mut requests, window, |pending| pending.ids.len()).await
        };
        previous_was_alone = batch.len() == 1;
        stats.coalesced(batch.len() as u64 - 1);
        in_flight.fetch_add(1, Ordering::AcqRel);
        let (client, in_flight) = (client.clone(), in_flight.clone());
        tokio::spawn(async move {
            answer(client, batch).await;
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// One window: `first` and what arrives until the window closes (after `idle` without a new
/// request, `max_wait` after it opened, or once it holds `max_ids` ids; `size` counts an
/// item's ids).
async fn gather<T>(
    first: T,
    requests: &mut mpsc::UnboundedReceiver<T>,
    window: Window,
    size: impl Fn(&T) -> usize,
) -> Vec<T> {
    let opened = Instant::now();
    let mut ids = size(&first);
    let mut batch = vec![first];
    while ids < window.max_ids {
        let close = (Instant::now() + window.idle).min(opened + window.max_wait);
        match tokio::time::timeout_at(close, requests.recv()).await {
            Ok(Some(item)) => {
                ids += size(&item);
                batch.push(item);
            }
            _ => break,
        }
    }
    batch
}

/// Instance ids named in an EC2 NotFound message ("The instance IDs 'i-1, i-2' do not exist").
fn ids_in(message: &str) -> HashSet<String> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| is_instance_id(word))
        .map(str::to_owned)
        .collect()
}

/// One DescribeInstances for the whole window (again without the ids EC2 says are missing),
/// then each caller's share.
async fn answer(client: aws_sdk_ec2::Client, batch: Vec<Pending>) {
    let mut ids: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for id in batch.iter().flat_map(|p| &p.ids) {
        if seen.insert(id.clone()) {
            ids.push(id.clone());
        }
    }
    let mut missing = HashSet::new();
    let mut not_found: Option<Error> = None;
    let output = loop {
        if ids.is_empty() {
            break Ok(DescribeInstancesOutput::builder().build());
        }
        let result = client
            .describe_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .map_err(Error::from);
        match result {
            Err(e @ Error::Ec2 { .. }) if not_found.is_none() && is_not_found(&e) => {
                let gone = ids_in(&e.to_string());
                if gone.is_empty() {
                    break Err(e);
                }
                ids.retain(|id| !gone.contains(id));
                missing.extend(gone);
                not_found = Some(e);
            }
            other => break other,
        }
    };
    let index = output.as_ref().map(Index::of).unwrap_or_default();
    for pending in batch {
        let share = match &output {
            Err(e) => Err(e.clone()),
            Ok(output) => {
                let theirs: Vec<&String> = pending
                    .ids
                    .iter()
                    .filter(|id| missing.contains(*id))
                    .collect();
                match (&not_found, theirs.is_empty()) {
                    (
                        Some(Error::Ec2 {
                            request_id,
                            http_status,
                            ..
                        }),
                        false,
                    ) => Err(Error::Ec2 {
                        code: "InvalidInstanceID.NotFound".to_owned(),
                        message: not_found_message(&theirs),
                        request_id: request_id.clone(),
                        http_status: *http_status,
                    }),
                    _ => Ok(index.share_of(output, &pending.ids)),
                }
            }
        };
        let _ = pending.reply.send(share);
    }
}

fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::Ec2 { code, .. } if code == "InvalidInstanceID.NotFound")
}

/// EC2's own wording for missing instance ids.
fn not_found_message(ids: &[&String]) -> String {
    match ids {
        [one] => format!("The instance ID '{one}' does not exist"),
        many => {
            let list: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
            format!("The instance IDs '{}' do not exist", list.join(", "))
        }
    }
}

/// Where each instance of a merged answer is, by id: built once per window, so each caller's
/// share costs its own ids, not a walk through the whole answer (1,000 callers sharing a
/// window of 1,000 instances would otherwise make a million comparisons).
#[derive(Debug, Default)]
struct Index {
    /// Instance id -> (reservation, instance) positions in the answer.
    positions: HashMap<String, (usize, usize)>,
}

impl Index {
    fn of(output: &DescribeInstancesOutput) -> Index {
        let positions = output
            .reservations()
            .iter()
            .enumerate()
            .flat_map(|(r, reservation)| {
                reservation
                    .instances()
                    .iter()
                    .enumerate()
                    .filter_map(move |(i, instance)| {
                        Some((instance.instance_id()?.to_owned(), (r, i)))
                    })
            })
            .collect();
        Index { positions }
    }

    /// The reservations of `output` cut down to `ids`, in the answer's order.
    fn share_of(
        &self,
        output: &DescribeInstancesOutput,
        ids: &[String],
    ) -> DescribeInstancesOutput {
        let mut picks: Vec<(usize, usize)> = ids
            .iter()
            .filter_map(|id| self.positions.get(id).copied())
            .collect();
        picks.sort_unstable();
        picks.dedup();
        let all = output.reservations();
        let reservations = picks
            .chunk_by(|a, b| a.0 == b.0)
            .map(|picked| {
                let r = &all[picked[0].0];
                Reservation::builder()
                    .set_reservation_id(r.reservation_id.clone())
                    .set_owner_id(r.owner_id.clone())
                    .set_requester_id(r.requester_id.clone())
                    .set_groups(r.groups.clone())
                    .set_instances(Some(
                        picked
                            .iter()
                            .map(|&(_, i)| r.instances()[i].clone())
                            .collect(),
                    ))
                    .build()
            })
            .collect();
        DescribeInstancesOutput::builder()
            .set_reservations(Some(reservations))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ids_are_read_from_ec2_messages() {
        let one = ids_in(
            "EC2 InvalidInstanceID.NotFound: The instance ID 'i-0123456789abcdef0' does not exist",
        );
        assert_eq!(one, HashSet::from(["i-0123456789abcdef0".to_owned()]));
        let two = ids_in("The instance IDs 'i-0aaaaaaaa, i-0bbbbbbbb' do not exist");
        assert_eq!(two.len(), 2);
        assert!(
            is_instance_id("i-0123abcd")
                && !is_instance_id("i-xyz")
                && !is_instance_id("eni-0123abcd")
        );
    }

    #[test]
    fn each_caller_gets_its_instances_with_their_reservations_in_the_answers_order() {
        use aws_sdk_ec2::types::{GroupIdentifier, Instance};
        let reservation = |id: &str, instances: &[&str]| {
            Reservation::builder()
                .reservation_id(id)
                .owner_id("123456789012")
                .groups(GroupIdentifier::builder().group_id("sg-1").build())
                .set_instances(Some(
                    instances
                        .iter()
                        .map(|i| Instance::builder().instance_id(*i).build())
                        .collect(),
                ))
                .build()
        };
        let output = DescribeInstancesOutput::builder()
            .reservations(reservation("r-1", &["i-1", "i-2", "i-3"]))
            .reservations(reservation("r-2", &["i-4"]))
            .reservations(reservation("r-3", &["i-5", "i-6"]))
            .build();
        let index = Index::of(&output);
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let share = index.share_of(&output, &ids(&["i-6", "i-1", "i-3", "i-9", "i-1"]));
        let got: Vec<(&str, Vec<&str>)> = share
            .reservations()
            .iter()
            .map(|r| {
                let instances = r
                    .instances()
                    .iter()
                    .filter_map(|i| i.instance_id())
                    .collect();
                (r.reservation_id().unwrap_or_default(), instances)
            })
            .collect();
        assert_eq!(got, [("r-1", vec!["i-1", "i-3"]), ("r-3", vec!["i-6"])]);
        let first = &share.reservations()[0];
        assert_eq!(first.owner_id(), Some("123456789012"));
        assert_eq!(
            first.groups().len(),
            1,
            "the reservation's own fields are kept"
        );
        assert!(
            index
                .share_of(&output, &ids(&["i-9"]))
                .reservations()
                .is_empty()
        );
    }

    /// A window of 10 ms idle, 30 ms at most, 5 ids at most.
    const WINDOW: Window = Window {
        idle: Duration::from_millis(10),
        max_wait: Duration::from_millis(30),
        max_ids: 5,
    };

    /// Sends an item of `size` ids after each delay in `delays` (ms, from the previous one),
    /// then keeps the queue open.
    fn send_after(delays: &[u64], size: usize) -> mpsc::UnboundedReceiver<usize> {
        let (queue, requests) = mpsc::unbounded_channel();
        let delays = delays.to_vec();
        tokio::spawn(async move {
            for delay in delays {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let _ = queue.send(size);
            }
            // Stay open: a closed queue would close the window too.
            std::future::pending::<()>().await;
            drop(queue);
        });
        requests
    }

    /// On the paused clock: a window closes `idle` after its last request...
    #[tokio::test(start_paused = true)]
    async fn a_window_closes_when_idle() {
        let mut requests = send_after(&[5, 8], 1);
        let opened = Instant::now();
        let batch = gather(1, &mut requests, WINDOW, |n| *n).await;
        assert_eq!(
            batch.len(),
            3,
            "the first and the two that came within the idle time"
        );
        assert_eq!(Instant::now() - opened, Duration::from_millis(23));
    }

    /// ... or `max_wait` after it opened, however busy ...
    #[tokio::test(start_paused = true)]
    async fn a_busy_window_closes_at_its_longest() {
        let mut requests = send_after(&[8; 10], 1);
        let opened = Instant::now();
        let batch = gather(1, &mut requests, WINDOW, |n| *n).await;
        assert_eq!(batch.len(), 4, "the first and those at 8, 16 and 24 ms");
        assert_eq!(Instant::now() - opened, Duration::from_millis(30));
    }

    /// ... or as soon as it holds `max_ids` ids, without waiting.
    #[tokio::test(start_paused = true)]
    async fn a_full_window_closes_at_once() {
        let mut requests = send_after(&[0, 0, 0, 0], 2);
        tokio::task::yield_now().await;
        let opened = Instant::now();
        let batch = gather(2, &mut requests, WINDOW, |n| *n).await;
        assert_eq!(batch, [2, 2, 2], "6 ids: the window is full");
        assert_eq!(Instant::now(), opened);
    }
}
