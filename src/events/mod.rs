//! EC2's events into the instance view: EventBridge delivers EC2's state changes, spot
//! interruption warnings, rebalance recommendations, AWS Health's scheduled changes and
//! capacity reservation interruptions to an SQS queue per account and region; each target
//! with a queue reads it (`queue`) and treats every event (`message`) as a hint: its instances
//! are described again at once, so watchers hear a change within seconds of EC2's event
//! rather than at the next full list, and the advisories reach the watchers and waiters of
//! their instances; when replicas share Redis, what one replica learned reaches the others
//! (`fanout`). The model: Karpenter's interruption queue, aws-node-termination-handler's
//! queue processor.

pub mod fanout;
pub mod message;
pub mod queue;

pub use fanout::Fanout;
pub use queue::{EventsSettings, sqs_client, start};
