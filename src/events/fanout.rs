//! Every replica hears every event. SQS consumers compete, so one replica receives each
//! message; when the replicas share Redis (the shared budget's), the replica that handled a
//! window publishes what it learned (the instances as EC2 described them, and the advisories)
//! on the target's channel, and every other replica applies it to its own view, with no EC2
//! call of its own. Redis pub/sub rather than a stream: a replica that misses a hint while
//! disconnected is covered by its next full list, so nothing needs replaying or trimming.

use crate::inventory::Inventory;
use crate::inventory::view::Entry;
use crate::pb;
use bytes::Bytes;
use futures_util::StreamExt;
use prost::Message;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use std::time::{Duration, SystemTime};
use tokio::sync::OnceCell;
use tokio::time::{Instant, sleep};

/// What one replica learned from one window of events, for the others.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Hint {
    /// The replica that published it (it applied the hint already).
    #[prost(string, tag = "1")]
    pub origin: String,
    /// The instances as EC2 described them, each a protobuf-encoded single-instance
    /// reservation (as the view keeps them).
    #[prost(bytes = "bytes", repeated, tag = "2")]
    pub reservations: Vec<Bytes>,
    /// What EC2 says is coming.
    #[prost(message, repeated, tag = "3")]
    pub advisories: Vec<pb::Advisory>,
    /// When EC2 described the instances (milliseconds since the Unix epoch): a late hint
    /// must not pass for newer than a full list the receiver made since.
    #[prost(uint64, tag = "4")]
    pub described_at_ms: u64,
}

/// The longest a publish may take (Redis slow or away: the full lists cover the others).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// One target's channel between the replicas.
pub struct Fanout {
    client: redis::Client,
    channel: String,
    origin: String,
    publisher: OnceCell<ConnectionManager>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("channel", &self.channel)
            .finish()
    }
}

/// The channel of a target: its account and region as the shared budget's hash tag names
/// them.
pub fn channel(key: &str) -> String {
    format!("ec2-grpc:events:{{{key}}}")
}

impl Fanout {
    /// The channel `channel` on `client`'s Redis, for this replica.
    pub fn new(client: redis::Client, channel: String) -> Fanout {
        Fanout {
            client,
            channel,
            origin: uuid::Uuid::new_v4().to_string(),
            publisher: OnceCell::new(),
        }
    }

    /// Tells the other replicas what EC2 described at `described_at`; a failure is logged
    /// (their full lists cover it). Bounded by `PUBLISH_TIMEOUT`.
    pub async fn publish(
        &self,
        reservations: Vec<Bytes>,
        advisories: Vec<pb::Advisory>,
        described_at: SystemTime,
    ) {
        let described_at_ms = described_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let hint = Hint {
            origin: self.origin.clone(),
            reservations,
            advisories,
            described_at_ms,
        };
        let sent = async {
            let connection = self
                .publisher
                .get_or_try_init(|| self.client.get_connection_manager())
                .await?;
            let mut connection = connection.clone();
            connection
                .publish::<_, _, ()>(&self.channel, hint.encode_to_vec())
                .await
        };
        match tokio::time::timeout(PUBLISH_TIMEOUT, sent).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(channel = %self.channel, "telling the other replicas of EC2's events failed: {e}");
            }
            Err(_) => {
                tracing::warn!(channel = %self.channel, "telling the other replicas of EC2's events timed out");
            }
        }
    }

    /// Applies the other replicas' hints to `inventory` until it closes, subscribing again
    /// (after a pause) when Redis goes away.
    pub async fn follow(&self, inventory: Inventory) {
        tokio::select! {
            () = inventory.closed() => {}
            () = self.subscribed(&inventory) => {}
        }
    }

    /// The subscription, again and again.
    async fn subscribed(&self, inventory: &Inventory) {
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(&self.channel).await {
                    Ok(()) => {
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            self.apply(inventory, message.get_payload_bytes());
                        }
                        tracing::warn!(channel = %self.channel, "the events channel closed; subscribing again");
                    }
                    Err(e) => {
                        tracing::warn!(channel = %self.channel, "subscribing to the events channel failed: {e}")
                    }
                },
                Err(e) => {
                    tracing::warn!(channel = %self.channel, "connecting for the events channel failed: {e}")
                }
            }
            sleep(Duration::from_secs(1)).await;
        }
    }

    /// Applies another replica's hint.
    fn apply(&self, inventory: &Inventory, payload: &[u8]) {
        let Ok(hint) = Hint::decode(payload) else {
            tracing::warn!(channel = %self.channel, "a hint that does not decode, ignored");
            return;
        };
        if hint.origin == self.origin {
            return;
        }
        let entries: Vec<Entry> = hint
            .reservations
            .iter()
            .filter_map(|bytes| pb::Reservation::decode(bytes.as_ref()).ok())
            .flat_map(Entry::of_reservation)
            .collect();
        // When EC2 described them, on this replica's clock.
        let described = SystemTime::UNIX_EPOCH + Duration::from_millis(hint.described_at_ms);
        let age = SystemTime::now()
            .duration_since(described)
            .unwrap_or_default();
        let at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        inventory.observed(entries, at);
        if !hint.advisories.is_empty() {
            inventory.advise(hint.advisories);
        }
    }
}
