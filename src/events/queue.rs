//! The consumer of a target's event queue: long-polls SQS, gathers the events of a short
//! window, describes their instances with one DescribeInstances (through the target's budget),
//! hands the advisories to the view, and deletes what it handled. A message whose refresh
//! failed stays, for SQS to deliver again after its visibility timeout; garbage and events of
//! other kinds are counted and deleted, so nothing stops the loop. With SQS unreachable the
//! loop backs off and tries again; the view's full lists still cover every change.

use super::fanout::Fanout;
use super::message::{self, Message};
use crate::ec2::Ec2;
use crate::inventory::Inventory;
use crate::telemetry::metrics::{instruments, with_target};
use aws_config::SdkConfig;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use opentelemetry::KeyValue;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::sleep;

/// SQS's longest wait for messages.
pub const WAIT_SECONDS: i32 = 20;
/// SQS's most messages per receive.
const MAX_MESSAGES: i32 = 10;
/// How long a received message stays hidden from other consumers: the window, the refresh
/// and the delete fit well within it.
const VISIBILITY_SECONDS: i32 = 60;
/// Most messages handled in one window (their instances described in one call).
const MAX_BATCH: usize = 100;
/// The longest pause between tries while SQS fails.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How a target's event queue is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsSettings {
    /// The SQS queue EventBridge delivers the account and region's EC2 events to.
    pub queue_url: String,
    /// How long the events after the first of a window gather before their instances are
    /// described: one DescribeInstances per window, whatever the number of events.
    pub debounce: Duration,
}

/// The SQS client of a target's queue, on the target's AWS configuration. aws-sdk-sqs sets
/// no timeout and a receive can hang: each attempt gets the long poll's wait and some more.
pub fn sqs_client(conf: &SdkConfig) -> aws_sdk_sqs::Client {
    let wait = Duration::from_secs(WAIT_SECONDS as u64);
    let config = aws_sdk_sqs::config::Builder::from(conf)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(wait + Duration::from_secs(5))
                .operation_timeout(wait + Duration::from_secs(15))
                .build(),
        )
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// Reads the queue for `inventory` (the view of `ec2`'s target) until the view closes,
/// telling the other replicas through `fanout` (when they share Redis).
pub fn start(
    sqs: aws_sdk_sqs::Client,
    settings: EventsSettings,
    inventory: Inventory,
    ec2: Ec2,
    fanout: Option<Arc<Fanout>>,
) {
    tokio::spawn(async move {
        let consumer = Consumer {
            sqs,
            settings,
            inventory,
            ec2,
            fanout,
        };
        tokio::select! {
            () = consumer.inventory.closed() => {}
            () = consumer.run() => {}
        }
    });
}

/// One target's consumer.
struct Consumer {
    sqs: aws_sdk_sqs::Client,
    settings: EventsSettings,
    inventory: Inventory,
    ec2: Ec2,
    fanout: Option<Arc<Fanout>>,
}

impl Consumer {
    /// Windows of events, one after another; pauses (doubling, up to a minute) while SQS
    /// fails.
    async fn run(&self) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.gather().await {
                Ok(batch) => {
                    backoff = Duration::from_secs(1);
                    self.handle(batch).await;
                }
                Err(e) => {
                    self.failed("receive");
                    tracing::warn!(queue = %self.settings.queue_url, "receiving EC2 events failed (retrying in {backoff:?}): {e}");
                    sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// The messages of one window: a long poll, then what arrives within the debounce.
    async fn gather(&self) -> Result<Vec<aws_sdk_sqs::types::Message>, String> {
        let mut batch = self.receive(WAIT_SECONDS).await?;
        if batch.is_empty() {
            return Ok(batch);
        }
        sleep(self.settings.debounce).await;
        while batch.len() < MAX_BATCH {
            let more = self.receive(0).await?;
            if more.is_empty() {
                break;
            }
            batch.extend(more);
        }
        Ok(batch)
    }

    /// One ReceiveMessage, waiting up to `wait` seconds.
    async fn receive(&self, wait: i32) -> Result<Vec<aws_sdk_sqs::types::Message>, String> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.settings.queue_url)
            .max_number_of_messages(MAX_MESSAGES)
            .wait_time_seconds(wait)
            .visibility_timeout(VISIBILITY_SECONDS)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        Ok(output.messages.unwrap_or_default())
    }

    /// Acts on one window's messages: one refresh of every instance they name, the
    /// advisories to the view, and deletes of what was handled.
    async fn handle(&self, batch: Vec<aws_sdk_sqs::types::Message>) {
        let metrics = instruments();
        let mut handled = Vec::new();
        let mut awaiting_refresh = Vec::new();
        let mut ids = BTreeSet::new();
        let mut advisories = Vec::new();
        let mut times = Vec::new();
        for received in batch {
            let Some(receipt) = received.receipt_handle else {
                continue;
            };
            let body = received.body.unwrap_or_default();
            let kind = match message::read(&body) {
                Message::Event(event) => {
                    ids.extend(event.instance_ids);
                    advisories.extend(event.advisories);
                    times.extend(event.time);
                    awaiting_refresh.push(receipt);
                    event.kind.label()
                }
                Message::Unknown(what) => {
                    tracing::debug!("an event of another kind, deleted: {what}");
                    handled.push(receipt);
                    "unknown"
                }
                Message::Malformed(why) => {
                    tracing::warn!("a malformed message on the events queue, deleted: {why}");
                    handled.push(receipt);
                    "malformed"
                }
            };
            metrics
                .inventory_event_messages
                .add(1, &self.labels([KeyValue::new("kind", kind)]));
        }
        let ids: Vec<String> = ids.into_iter().collect();
        let mut refreshed = Vec::new();
        let described_at = SystemTime::now();
        if !ids.is_empty() {
            match self.inventory.refresh(&self.ec2, &ids).await {
                Ok(found) => {
                    refreshed = found;
                    handled.append(&mut awaiting_refresh);
                    let now = SystemTime::now();
                    for time in times {
                        let at =
                            SystemTime::UNIX_EPOCH + Duration::from_secs(time.secs().max(0) as u64);
                        if let Ok(lag) = now.duration_since(at) {
                            metrics
                                .inventory_event_lag
                                .record(lag.as_secs_f64(), &self.labels([]));
                        }
                    }
                }
                Err(e) => {
                    self.failed("refresh");
                    tracing::warn!(
                        "refreshing {} instances an event named failed; SQS delivers the event again: {e}",
                        ids.len()
                    );
                }
            }
        }
        if !advisories.is_empty() {
            self.inventory.advise(advisories.clone());
        }
        if let Some(fanout) = &self.fanout
            && (!refreshed.is_empty() || !advisories.is_empty())
        {
            // Not awaited: the deletes below never wait on Redis.
            let fanout = fanout.clone();
            tokio::spawn(async move { fanout.publish(refreshed, advisories, described_at).await });
        }
        self.delete(handled).await;
    }

    /// Deletes handled messages, ten per call.
    async fn delete(&self, receipts: Vec<String>) {
        use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
        for chunk in receipts.chunks(MAX_MESSAGES as usize) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, receipt)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()
                        .ok()
                })
                .collect();
            let sent = entries.len();
            match self
                .sqs
                .delete_message_batch()
                .queue_url(&self.settings.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(output) => {
                    let deleted = sent - output.failed.len();
                    instruments()
                        .inventory_event_deleted
                        .add(deleted as u64, &self.labels([]));
                    if !output.failed.is_empty() {
                        self.failed("delete");
                    }
                }
                Err(e) => {
                    self.failed("delete");
                    tracing::warn!(
                        "deleting {sent} handled events failed (SQS delivers them again): {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    );
                }
            }
        }
    }

    /// Counts a failure at `stage`.
    fn failed(&self, stage: &'static str) {
        instruments()
            .inventory_event_failures
            .add(1, &self.labels([KeyValue::new("stage", stage)]));
    }

    /// `more`, with the target's attributes.
    fn labels<const N: usize>(&self, more: [KeyValue; N]) -> Vec<KeyValue> {
        with_target(more, self.ec2.stats.target_attributes())
    }
}
