//! One call's audit record as the call goes: what the audit layer knows at its start (who,
//! from where, which RPC, when), and what the call notes on the way (`call::Notes`): the
//! request, the target, every EC2 call with AWS's request id, the resources acted on. At the
//! call's end it becomes the `Event` the sink writes. A streamed change also writes an event
//! per step (batch or deletion) as it is done, with the EC2 calls made since the step before,
//! once the layer knows who called (`write_steps`).

use super::event::{Ec2Call, EncodedRequest, Event, Identity, Outcome, Target};
use super::policy::Level;
use super::sink::Sink;
use crate::call::Notes;
use crate::pb;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::SystemTime;

/// Most EC2 calls and resources an event lists (a cleanup of thousands says how many more).
const MAX_LISTED: usize = 10_000;

/// What the layer knows when the call starts.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// The event's id (also returned to the caller as `ec2-audit-id`).
    pub audit_id: String,
    /// When the call arrived.
    pub received: Option<SystemTime>,
    /// `ec2.v1.Ec2Service/RunInstances`.
    pub rpc: String,
    /// The peer's address.
    pub source_ip: String,
    /// The caller's `user-agent`.
    pub user_agent: String,
    /// The W3C trace id of the call's trace.
    pub trace_id: String,
}

/// What the call notes as it goes.
#[derive(Debug, Default)]
struct Noted {
    request: Option<Vec<u8>>,
    target: Option<Target>,
    ec2_calls: Vec<Ec2Call>,
    more_ec2_calls: usize,
    resources: Vec<String>,
    listed: HashSet<String>,
    more: usize,
    /// Where step events go, once armed.
    steps: Option<Steps>,
    /// The EC2 calls since the last step (or since the steps were armed: the selection's
    /// describes come before), for the next step's event.
    step_calls: Vec<Ec2Call>,
}

/// How a call's step events are written.
#[derive(Debug)]
struct Steps {
    sink: Sink,
    level: Level,
    identity: Identity,
}

/// One call's record.
#[derive(Debug)]
pub struct Record {
    start: Start,
    noted: Mutex<Noted>,
}

impl Record {
    /// A record of a call that started with `start`.
    pub fn new(start: Start) -> Record {
        Record {
            start,
            noted: Mutex::new(Noted::default()),
        }
    }

    /// The event's id.
    pub fn audit_id(&self) -> &str {
        &self.start.audit_id
    }

    /// The event of the call, at `level`, ended as `outcome` by `identity` (once: what was
    /// noted moves into it).
    pub fn event(&self, level: Level, identity: Identity, outcome: Outcome) -> Event {
        let mut noted = self.noted.lock().expect("audit record lock");
        let request = noted.request.take();
        let mut event = self.shaped(level, identity, outcome, request, level == Level::Request);
        event.target = noted.target.take();
        event.ec2_calls = std::mem::take(&mut noted.ec2_calls);
        event.more_ec2_calls = noted.more_ec2_calls;
        event.resources = std::mem::take(&mut noted.resources);
        event.more_resources = noted.more;
        event
    }

    /// From now on, each step the call notes is written to `sink` at `level` as `identity`'s,
    /// with the EC2 calls made since the step before.
    pub fn write_steps(&self, sink: Sink, level: Level, identity: Identity) {
        let mut noted = self.noted.lock().expect("audit record lock");
        noted.steps = Some(Steps {
            sink,
            level,
            identity,
        });
    }

    /// An event of this call with the start's fields, and the request (its parameters
    /// written when `parameters`).
    fn shaped(
        &self,
        level: Level,
        identity: Identity,
        outcome: Outcome,
        request: Option<Vec<u8>>,
        parameters: bool,
    ) -> Event {
        let method = self.start.rpc.rsplit('/').next().unwrap_or_default();
        Event {
            audit_id: self.start.audit_id.clone(),
            level: level.name(),
            stage: "complete",
            step: None,
            received_at: self.start.received.map(rfc3339).unwrap_or_default(),
            completed_at: rfc3339(SystemTime::now()),
            rpc: method.to_owned(),
            identity,
            source_ip: self.start.source_ip.clone(),
            user_agent: self.start.user_agent.clone(),
            trace_id: self.start.trace_id.clone(),
            target: None,
            ec2_calls: Vec::new(),
            more_ec2_calls: 0,
            resources: Vec::new(),
            more_resources: 0,
            outcome,
            dry_run: false,
            request: None,
            encoded_request: request.map(|bytes| EncodedRequest {
                rpc: method.to_owned(),
                bytes,
                parameters,
            }),
        }
    }
}

impl Notes for Record {
    fn request(&self, encoded: Vec<u8>) {
        self.noted.lock().expect("audit record lock").request = Some(encoded);
    }

    fn target(&self, account: &str, region: &str, source_identity: Option<&str>) {
        self.noted.lock().expect("audit record lock").target = Some(Target {
            account: account.to_owned(),
            region: region.to_owned(),
            source_identity: source_identity.map(str::to_owned),
        });
    }

    fn ec2_call(&self, action: &str, request_id: Option<&str>, http_status: u16) {
        let mut noted = self.noted.lock().expect("audit record lock");
        let call = Ec2Call {
            action: action.to_owned(),
            request_id: request_id.unwrap_or_default().to_owned(),
            http_status,
        };
        // A step's own calls (a batch's attempts) are few: its list is never cut short.
        if noted.steps.is_some() {
            noted.step_calls.push(call.clone());
        }
        if noted.ec2_calls.len() < MAX_LISTED {
            noted.ec2_calls.push(call);
        } else {
            noted.more_ec2_calls += 1;
        }
    }

    fn step(
        &self,
        number: i64,
        resources: &[String],
        dry_run: bool,
        failure: Option<&pb::BatchFailure>,
    ) {
        let mut noted = self.noted.lock().expect("audit record lock");
        let Some(steps) = &noted.steps else {
            return;
        };
        let (sink, level, identity) = (steps.sink.clone(), steps.level, steps.identity.clone());
        let outcome = match failure {
            None => Outcome {
                code: "OK".into(),
                ..Outcome::default()
            },
            Some(failed) => Outcome {
                code: crate::telemetry::rpc::code_name(tonic::Code::from(failed.code)).to_owned(),
                reason: failed.reason.clone(),
                aws_code: failed.aws_code.clone(),
                message: failed.message.clone(),
            },
        };
        // The request's parameters are in the call's event.
        let mut event = self.shaped(level, identity, outcome, None, false);
        event.stage = "step";
        event.step = Some(number);
        event.dry_run = dry_run;
        event.target = noted.target.clone();
        event.ec2_calls = std::mem::take(&mut noted.step_calls);
        event.resources = resources.to_vec();
        drop(noted);
        sink.send(event);
    }

    fn resources(&self, ids: &[String]) {
        let mut noted = self.noted.lock().expect("audit record lock");
        for id in ids {
            if noted.resources.len() >= MAX_LISTED {
                noted.more += 1;
            } else if noted.listed.insert(id.clone()) {
                noted.resources.push(id.clone());
            }
        }
    }
}

/// A time as RFC 3339 in UTC, with milliseconds (CloudTrail's `eventTime` has seconds).
pub fn rfc3339(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let at = aws_sdk_ec2::primitives::DateTime::from_millis(since.as_millis() as i64);
    at.fmt(aws_sdk_ec2::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default()
}
