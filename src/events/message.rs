//! EC2's events as EventBridge delivers them to SQS, read by (version, source, detail-type):
//! which instances each one concerns, and, for the advisories (a spot interruption, a
//! rebalance recommendation, a scheduled change, a capacity reservation interruption), what
//! is coming and when. An event is a hint to describe its instances again, never their state:
//! delivery is at least once and unordered, so `detail.state` is not read at all.

use crate::convert::timestamp;
use crate::pb;
use aws_sdk_ec2::primitives::{DateTime, DateTimeFormat as Format};
use serde::Deserialize;
use serde_json::Value;

/// EventBridge's envelope: the members every event has.
#[derive(Debug, Deserialize)]
struct Envelope {
    version: String,
    #[serde(default)]
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    detail: Value,
}

/// The events the inventory acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `EC2 Instance State-change Notification`.
    StateChange,
    /// `EC2 Spot Instance Interruption Warning`: two minutes before EC2 acts.
    SpotInterruption,
    /// `EC2 Instance Rebalance Recommendation`: a spot instance at elevated risk.
    Rebalance,
    /// `AWS Health Event` of EC2 in the scheduled-change category (maintenance, retirement).
    ScheduledChange,
    /// `EC2 Capacity Reservation Instance Interruption Warning`.
    CapacityReservationInterruption,
}

impl Kind {
    /// The metric label of the kind.
    pub fn label(self) -> &'static str {
        match self {
            Kind::StateChange => "state_change",
            Kind::SpotInterruption => "spot_interruption",
            Kind::Rebalance => "rebalance_recommendation",
            Kind::ScheduledChange => "scheduled_change",
            Kind::CapacityReservationInterruption => "capacity_reservation_interruption",
        }
    }
}

/// An event the inventory acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What it is.
    pub kind: Kind,
    /// The instances it concerns.
    pub instance_ids: Vec<String>,
    /// When EC2 (or AWS Health) emitted it.
    pub time: Option<DateTime>,
    /// What is coming, for each instance (none for a state change).
    pub advisories: Vec<pb::Advisory>,
}

/// A message's body, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// An event to act on.
    Event(Event),
    /// A well-formed event of another kind (the queue's rules match more than these).
    Unknown(String),
    /// Not an EventBridge event of a version this reads, or one without its instances.
    Malformed(String),
}

/// Reads a message body.
pub fn read(body: &str) -> Message {
    let envelope: Envelope = match serde_json::from_str(body) {
        Ok(envelope) => envelope,
        Err(e) => return Message::Malformed(format!("not an EventBridge event: {e}")),
    };
    if envelope.version != "0" {
        return Message::Malformed(format!("event version {:?}", envelope.version));
    }
    let kind = match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        ("aws.ec2", "EC2 Instance State-change Notification") => Kind::StateChange,
        ("aws.ec2", "EC2 Spot Instance Interruption Warning") => Kind::SpotInterruption,
        ("aws.ec2", "EC2 Instance Rebalance Recommendation") => Kind::Rebalance,
        ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning") => {
            Kind::CapacityReservationInterruption
        }
        ("aws.health", "AWS Health Event") if is_ec2_scheduled_change(&envelope.detail) => {
            Kind::ScheduledChange
        }
        (source, detail_type) => return Message::Unknown(format!("{source}: {detail_type}")),
    };
    let instance_ids = instance_ids(kind, &envelope);
    if instance_ids.is_empty() {
        return Message::Malformed(format!("{}: no instance id", envelope.detail_type));
    }
    let time = parse_time(&envelope.time);
    let advisories = match advisory(kind, &envelope, time) {
        Some(advisory) => instance_ids
            .iter()
            .map(|id| pb::Advisory {
                instance_id: id.clone(),
                ..advisory.clone()
            })
            .collect(),
        None => Vec::new(),
    };
    Message::Event(Event {
        kind,
        instance_ids,
        time,
        advisories,
    })
}

/// Whether an AWS Health event is EC2's and announces a scheduled change.
fn is_ec2_scheduled_change(detail: &Value) -> bool {
    detail["service"] == "EC2" && detail["eventTypeCategory"] == "scheduledChange"
}

/// The instances an event concerns: `detail.instance-id` (a spot warning's resource ARN has
/// no account, so the detail is read, not the ARN), Health's affected entities, else the
/// instance ARNs of `resources`.
fn instance_ids(kind: Kind, envelope: &Envelope) -> Vec<String> {
    let mut ids: Vec<String> = match kind {
        Kind::ScheduledChange => envelope.detail["affectedEntities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entity| entity["entityValue"].as_str())
            .map(str::to_owned)
            .collect(),
        _ => ["instance-id", "instanceId"]
            .iter()
            .find_map(|key| envelope.detail[*key].as_str())
            .map(str::to_owned)
            .into_iter()
            .collect(),
    };
    if ids.is_empty() {
        ids = envelope
            .resources
            .iter()
            .filter_map(|arn| arn.rsplit_once(":instance/").map(|(_, id)| id.to_owned()))
            .collect();
    }
    ids.retain(|id| id.starts_with("i-"));
    ids.sort();
    ids.dedup();
    ids
}

/// What an advisory event says is coming (its instance id left for the caller to fill).
fn advisory(kind: Kind, envelope: &Envelope, time: Option<DateTime>) -> Option<pb::Advisory> {
    let detail = &envelope.detail;
    let text = |key: &str| detail[key].as_str().unwrap_or_default().to_owned();
    let base = pb::Advisory {
        event_id: envelope.id.clone(),
        issued: timestamp(time),
        ..Default::default()
    };
    match kind {
        Kind::StateChange => None,
        // EC2 acts two minutes after the warning.
        Kind::SpotInterruption => Some(pb::Advisory {
            kind: pb::AdvisoryKind::SpotInterruption as i32,
            action: text("instance-action"),
            not_before: timestamp(time.map(|t| plus_seconds(t, 120))),
            description: "EC2 reclaims this spot instance two minutes after the warning".into(),
            ..base
        }),
        Kind::Rebalance => Some(pb::Advisory {
            kind: pb::AdvisoryKind::RebalanceRecommendation as i32,
            description: "this spot instance is at elevated risk of interruption".into(),
            ..base
        }),
        Kind::CapacityReservationInterruption => Some(pb::Advisory {
            kind: pb::AdvisoryKind::CapacityReservationInterruption as i32,
            action: text("instance-action"),
            description: "the capacity reservation this instance runs in is being reclaimed".into(),
            ..base
        }),
        Kind::ScheduledChange => Some(pb::Advisory {
            kind: pb::AdvisoryKind::ScheduledChange as i32,
            action: text("eventTypeCode"),
            not_before: timestamp(parse_time(&text("startTime"))),
            not_after: timestamp(parse_time(&text("endTime"))),
            description: detail["eventDescription"][0]["latestDescription"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            ..base
        }),
    }
}

/// An RFC 3339 time as EventBridge and AWS Health write it (`2026-12-05T10:00:00Z`); AWS
/// Health also writes `Sat, 5 Dec 2026 10:00:00 GMT`.
fn parse_time(text: &str) -> Option<DateTime> {
    DateTime::from_str(text, Format::DateTime)
        .or_else(|_| DateTime::from_str(text, Format::HttpDate))
        .ok()
}

/// `time` plus `seconds`.
fn plus_seconds(time: DateTime, seconds: i64) -> DateTime {
    DateTime::from_secs_and_nanos(time.secs() + seconds, time.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(detail_type: &str, source: &str, detail: &str) -> String {
        format!(
            r#"{{"version":"0","id":"e-1","detail-type":"{detail_type}","source":"{source}","account":"123456789012","time":"2026-12-05T10:00:00Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-0aaa"],"detail":{detail}}}"#
        )
    }

    #[test]
    fn a_state_change_names_its_instance_and_no_advisory() {
        let body = event(
            "EC2 Instance State-change Notification",
            "aws.ec2",
            r#"{"instance-id":"i-0abc","state":"stopped"}"#,
        );
        let Message::Event(event) = read(&body) else {
            panic!("an event")
        };
        assert_eq!(event.kind, Kind::StateChange);
        assert_eq!(event.instance_ids, ["i-0abc"]);
        assert!(event.advisories.is_empty());
        assert_eq!(event.time.map(|t| t.secs()), Some(1_796_464_800));
    }

    #[test]
    fn a_spot_warning_says_its_action_and_when() {
        let body = event(
            "EC2 Spot Instance Interruption Warning",
            "aws.ec2",
            r#"{"instance-id":"i-0spot","instance-action":"hibernate"}"#,
        );
        let Message::Event(event) = read(&body) else {
            panic!("an event")
        };
        let advisory = &event.advisories[0];
        assert_eq!(advisory.instance_id, "i-0spot");
        assert_eq!(advisory.kind, pb::AdvisoryKind::SpotInterruption as i32);
        assert_eq!(advisory.action, "hibernate");
        let issued = advisory.issued.as_ref().unwrap().seconds;
        assert_eq!(advisory.not_before.as_ref().unwrap().seconds, issued + 120);
    }

    #[test]
    fn a_health_scheduled_change_names_every_affected_instance_and_its_window() {
        let detail = r#"{"service":"EC2","eventTypeCategory":"scheduledChange","eventTypeCode":"AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED","startTime":"Sat, 12 Dec 2026 02:00:00 GMT","endTime":"Sat, 12 Dec 2026 04:00:00 GMT","eventDescription":[{"language":"en_US","latestDescription":"Reboot for maintenance"}],"affectedEntities":[{"entityValue":"i-0b"},{"entityValue":"i-0a"}]}"#;
        let Message::Event(event) = read(&event("AWS Health Event", "aws.health", detail)) else {
            panic!("an event")
        };
        assert_eq!(event.kind, Kind::ScheduledChange);
        assert_eq!(event.instance_ids, ["i-0a", "i-0b"]);
        let advisory = &event.advisories[1];
        assert_eq!(
            advisory.action,
            "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED"
        );
        assert_eq!(advisory.description, "Reboot for maintenance");
        let window = advisory.not_after.as_ref().unwrap().seconds
            - advisory.not_before.as_ref().unwrap().seconds;
        assert_eq!(window, 7200);
    }

    #[test]
    fn garbage_other_kinds_and_missing_versions_are_told_apart() {
        assert!(matches!(read("not json"), Message::Malformed(_)));
        assert!(matches!(read("{}"), Message::Malformed(_)));
        let unversioned = r#"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"instance-id":"i-1"}}"#;
        assert!(matches!(read(unversioned), Message::Malformed(_)));
        let other = event("EBS Snapshot Notification", "aws.ec2", "{}");
        assert!(matches!(read(&other), Message::Unknown(_)));
        let no_instance = r#"{"version":"0","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}"#;
        assert!(matches!(read(no_instance), Message::Malformed(_)));
        let other_health = event(
            "AWS Health Event",
            "aws.health",
            r#"{"service":"RDS","eventTypeCategory":"scheduledChange"}"#,
        );
        assert!(matches!(read(&other_health), Message::Unknown(_)));
    }
}
