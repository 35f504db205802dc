//! The audit trail: who did what to which resource, when, with what result, one event per
//! call of `ec2.v1.Ec2Service` that the policy audits (by default every change, at `request`
//! level, and no reads), written apart from the diagnostic logs. Each event lists the EC2
//! calls the call made with AWS's request ids, which CloudTrail's records carry as
//! `requestID`: that is the join between the gateway's caller and CloudTrail's
//! `userIdentity` (the gateway's role).
//!
//! - `policy`: levels and rules (a file, read again when it changes);
//! - `record`: a call's record as it goes (the layers below note into it through
//!   `call::Notes`); `event`: the JSON line it becomes; `params`: the request's parameters,
//!   `user_data` left out;
//! - `sink`: the bounded queue and the writer thread; `otlp`: each event as an OpenTelemetry
//!   log record too, when OTLP is on;
//! - this file: the layer that opens a record per call, outside authentication (so refused
//!   calls are audited too), refuses a change before any EC2 call with `--audit-required`
//!   while the sink cannot write, and writes the event when the response ends (and, for a
//!   streamed change, one per step as it is done, with the call's audit id).

pub mod event;
pub mod otlp;
pub mod params;
pub mod policy;
mod record;
pub mod sink;

use crate::auth::{Authentication, Principal};
use crate::call::Call;
use crate::call_end::{AtEnd, Ended, WatchedBody};
use crate::error::Error;
use crate::watched::Watched;
use bytes::Bytes;
use event::{Identity, Outcome};
use http_body::Body;
use opentelemetry::trace::TraceContextExt;
use policy::{Level, Policy};
use record::{Record, Start};
use sink::Sink;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;
use tonic::transport::server::TcpConnectInfo;
use tonic_types::StatusExt;
use tower::{Layer, Service};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The response metadata naming the call's audit event.
pub const AUDIT_ID_METADATA: &str = "ec2-audit-id";

/// The service whose calls are audited.
const SERVICE: &str = "/ec2.v1.Ec2Service/";

/// The audit's parts: where events go, the policy in force, and whether changes need their
/// event written.
#[derive(Debug, Clone)]
pub struct Auditor {
    sink: Sink,
    policy: Option<Arc<Watched<Policy>>>,
    required: bool,
}

impl Auditor {
    /// Events to `sink`, under the policy file at `policy_file` (kept current) or the default;
    /// with `required`, changes are refused while the sink cannot write.
    pub fn new(sink: Sink, policy_file: Option<&Path>, required: bool) -> Result<Auditor, String> {
        let policy = match policy_file {
            Some(path) => {
                let watched = Watched::load(path, Policy::parse)?;
                watched.watch();
                Some(watched)
            }
            None => None,
        };
        Ok(Auditor {
            sink,
            policy,
            required,
        })
    }

    /// The writer thread, to wait for at exit.
    pub fn writer(&self) -> sink::Writer {
        self.sink.writer()
    }

    /// Whether no call of `rpc` is audited, whoever calls (no record is opened for it).
    fn never(&self, rpc: &str) -> bool {
        let level = match &self.policy {
            Some(policy) => policy.get().level_for_anyone(rpc),
            None => Policy::default().level_for_anyone(rpc),
        };
        level == Some(Level::None)
    }

    /// The level of a call of `rpc` by `principal`.
    fn level(&self, rpc: &str, principal: &str) -> Level {
        match &self.policy {
            Some(policy) => policy.get().level(rpc, principal),
            None => Policy::default().level(rpc, principal),
        }
    }
}

/// Tower layer auditing every call of `ec2.v1.Ec2Service` (no auditor: lets all through).
#[derive(Debug, Clone)]
pub struct AuditLayer {
    auditor: Option<Auditor>,
}

impl AuditLayer {
    /// Audits with `auditor`, when there is one.
    pub fn new(auditor: Option<Auditor>) -> AuditLayer {
        AuditLayer { auditor }
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;

    fn layer(&self, inner: S) -> Audit<S> {
        Audit {
            inner,
            auditor: self.auditor.clone(),
        }
    }
}

/// The service `AuditLayer` makes.
#[derive(Debug, Clone)]
pub struct Audit<S> {
    inner: S,
    auditor: Option<Auditor>,
}

/// What the event needs once the response ends.
struct Finish {
    rpc: String,
    record: Arc<Record>,
    auditor: Auditor,
    identity: Identity,
    /// The policy's level for the call, decided once its caller is known.
    level: Option<Level>,
    done: bool,
}

impl Finish {
    /// Writes the call's event once, ended with `outcome`, at the policy's level.
    fn done(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let level = self
            .level
            .unwrap_or_else(|| self.auditor.level(&self.rpc, &self.identity.principal));
        if level == Level::None {
            return;
        }
        let identity = std::mem::take(&mut self.identity);
        self.auditor
            .sink
            .send(self.record.event(level, identity, outcome));
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.done(Outcome {
            code: "CANCELLED".into(),
            message: "the client went away before the end".into(),
            ..Outcome::default()
        });
    }
}

/// The outcome a response's status (its headers' or trailers') says.
fn outcome(headers: &http::HeaderMap) -> Option<Outcome> {
    let status = tonic::Status::from_header_map(headers)?;
    let code = crate::telemetry::rpc::code_name(status.code()).to_owned();
    if status.code() == tonic::Code::Ok {
        return Some(Outcome {
            code,
            ..Outcome::default()
        });
    }
    let info = status.get_details_error_info();
    Some(Outcome {
        code,
        reason: info.as_ref().map(|i| i.reason.clone()).unwrap_or_default(),
        aws_code: info
            .as_ref()
            .and_then(|i| i.metadata.get("aws_code").cloned())
            .unwrap_or_default(),
        message: status.message().to_owned(),
    })
}

/// The response body of a call of `Ec2Service`: it writes the call's event when it sees the
/// call's end (nothing for a call not audited).
pub type AuditedBody<B> = WatchedBody<B, Option<Audited>>;

/// What the audit layer does at an audited call's end.
pub struct Audited {
    finish: Finish,
    /// The outcome the response headers said (an error answered at once).
    header_outcome: Option<Outcome>,
}

impl AtEnd for Audited {
    fn ended(&mut self, how: Ended<'_>) {
        let outcome = match how {
            Ended::Trailers(trailers) => match outcome(trailers) {
                Some(outcome) => outcome,
                None => return,
            },
            Ended::Failed => Outcome {
                code: "INTERNAL".into(),
                message: "the response failed".into(),
                ..Outcome::default()
            },
            Ended::Finished => self.header_outcome.clone().unwrap_or(Outcome {
                code: "UNKNOWN".into(),
                ..Outcome::default()
            }),
            // Dropped before the end without an answer: `Finish` writes it as CANCELLED.
            Ended::Dropped => match self.header_outcome.clone() {
                Some(outcome) => outcome,
                None => return,
            },
        };
        self.finish.done(outcome);
    }
}

impl<S, B, R> Service<http::Request<B>> for Audit<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Body<Data = Bytes> + Default + Send + 'static,
{
    type Response = http::Response<AuditedBody<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let method = path.rsplit('/').next().unwrap_or_default();
        let auditor = match &self.auditor {
            // A call the policy audits for no caller (by default, every read) opens no record.
            Some(auditor) if path.starts_with(SERVICE) && !auditor.never(method) => auditor.clone(),
            _ => {
                let response = self.inner.call(request);
                return Box::pin(async move {
                    let response = response.await?;
                    Ok(response.map(|inner| WatchedBody::new(inner, None)))
                });
            }
        };
        let method = method.to_owned();
        if auditor.required && policy::is_change(&method) && !auditor.sink.writable() {
            let refused = tonic::Status::from(Error::AuditUnavailable).into_http::<R>();
            return Box::pin(async move { Ok(refused.map(|inner| WatchedBody::new(inner, None))) });
        }
        let trace_id = tracing::Span::current()
            .context()
            .span()
            .span_context()
            .trace_id();
        let record = Arc::new(Record::new(Start {
            audit_id: uuid::Uuid::new_v4().to_string(),
            received: Some(SystemTime::now()),
            rpc: path.to_owned(),
            source_ip: request
                .extensions()
                .get::<TcpConnectInfo>()
                .and_then(TcpConnectInfo::remote_addr)
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            user_agent: request
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            trace_id: if trace_id == opentelemetry::trace::TraceId::INVALID {
                String::new()
            } else {
                trace_id.to_string()
            },
        }));
        Call::set_notes(record.clone());
        // Made now, so a call dropped before it answers (the caller's deadline, a reset, the
        // end of the shutdown grace) is still written, as CANCELLED.
        let mut finish = Finish {
            rpc: method,
            level: None,
            record: record.clone(),
            auditor,
            identity: Identity {
                method: "none".into(),
                ..Identity::default()
            },
            done: false,
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            let principal = response.extensions().get::<Principal>().cloned();
            let how = response
                .extensions()
                .get::<Authentication>()
                .cloned()
                .unwrap_or_default();
            let identity = Identity {
                principal: principal.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
                method: if how.method.is_empty() {
                    "none"
                } else {
                    how.method
                }
                .to_owned(),
                issuer: how.issuer,
                subject: how.subject,
            };
            if let Ok(id) = record.audit_id().parse() {
                response.headers_mut().insert(AUDIT_ID_METADATA, id);
            }
            let header_outcome = outcome(response.headers());
            // A streamed change writes each step as it is done.
            let level = finish.auditor.level(&finish.rpc, &identity.principal);
            if policy::STREAMED_CHANGES.contains(&finish.rpc.as_str()) && level != Level::None {
                record.write_steps(finish.auditor.sink.clone(), level, identity.clone());
            }
            finish.level = Some(level);
            finish.identity = identity;
            let audited = Audited {
                finish,
                header_outcome,
            };
            Ok(response.map(|inner| WatchedBody::new(inner, Some(audited))))
        })
    }
}
