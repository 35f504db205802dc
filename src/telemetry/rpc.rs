//! Observing every gRPC call, as the outermost tower layer: a server span continuing the
//! caller's W3C trace (`traceparent` in the gRPC metadata), the `rpc.server.call.duration`
//! metric with the call's final status, and one log line per call with the caller, method,
//! status, duration and EC2 attempts made.
//!
//! A call's status is known only when its response ends (in the trailers, or in the headers
//! of an error answered at once), so the response body is watched for it (`call_end`); a body
//! dropped before its end is a call the client cancelled.

use crate::auth::{Principal, caller_of};
use crate::call::Ec2Attempts;
use crate::call_end::{AtEnd, Ended, WatchedBody};
use crate::telemetry::metrics::instruments;
use bytes::Bytes;
use http_body::Body;
use opentelemetry::KeyValue;
use opentelemetry::propagation::Extractor;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use tokio::time::Instant;
use tonic::Code;
use tower::{Layer, Service};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Tower layer observing every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe { inner }
    }
}

/// The service `ObserveLayer` makes: every call of the inner service gets its span, duration
/// metric and log line.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
}

/// Reads W3C trace context from HTTP/2 headers (gRPC metadata).
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The gRPC code name, as `rpc.status_code` and logs spell it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The `grpc-status` in a header map, if there is one.
fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    Some(Code::from_i32(value.parse().ok()?))
}

/// What is known of a call until its response ends. Dropped unfinished, the call was
/// cancelled (the client went away before the end).
struct Finish {
    started: Instant,
    service: String,
    method: String,
    caller: String,
    span: tracing::Span,
    ec2_attempts: Option<Ec2Attempts>,
    finished: bool,
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.done(Code::Cancelled);
    }
}

impl Finish {
    /// Records the call's end once: span status, duration metric, log line.
    fn done(&mut self, code: Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let elapsed = self.started.elapsed();
        let status = code_name(code);
        let attempts = self
            .ec2_attempts
            .as_ref()
            .map_or(0, |a| a.0.load(Ordering::Relaxed));
        self.span.record("rpc.grpc.status_code", code as i32);
        if code != Code::Ok {
            self.span.record("otel.status_code", "ERROR");
        }
        let attrs = [
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", self.service.clone()),
            KeyValue::new("rpc.method", self.method.clone()),
            KeyValue::new("rpc.status_code", status),
        ];
        instruments()
            .rpc_duration
            .record(elapsed.as_secs_f64(), &attrs);
        instruments().rpc_active_streams.add(-1, &[]);
        tracing::info!(
            parent: &self.span,
            caller = %self.caller,
            method = %format!("{}/{}", self.service, self.method),
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            ec2_attempts = attempts,
            "rpc"
        );
    }
}

/// The response body of an observed call: it records the call's end when it sees it.
pub type ObservedBody<B> = WatchedBody<B, Observed>;

/// What the observe layer does at a call's end.
pub struct Observed {
    finish: Finish,
    /// The status from the response headers (an error answered at once).
    header_status: Option<Code>,
}

impl AtEnd for Observed {
    fn ended(&mut self, how: Ended<'_>) {
        let code = match how {
            Ended::Trailers(trailers) => match grpc_status(trailers) {
                Some(code) => code,
                None => return,
            },
            Ended::Failed => Code::Internal,
            Ended::Finished => self.header_status.unwrap_or(Code::Unknown),
            // Dropped before the end: the client went away.
            Ended::Dropped => self.header_status.unwrap_or(Code::Cancelled),
        };
        self.finish.done(code);
    }
}

impl<S, B, R> Service<http::Request<B>> for Observe<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Body<Data = Bytes> + Send + 'static,
{
    type Response = http::Response<ObservedBody<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().trim_start_matches('/').to_owned();
        let (service, method) = path.split_once('/').unwrap_or((path.as_str(), ""));
        let (service, method) = (service.to_owned(), method.to_owned());
        let caller = caller_of(&request);
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            // The call's target, recorded once the RPC has resolved it (`api`).
            cloud.account.id = tracing::field::Empty,
            cloud.region = tracing::field::Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&Headers(request.headers()))
        });
        let _ = span.set_parent(parent);
        instruments().rpc_active_streams.add(1, &[]);
        let mut finish = Finish {
            started: Instant::now(),
            service,
            method,
            caller,
            span: span.clone(),
            ec2_attempts: None,
            finished: false,
        };
        let response = span.in_scope(|| self.inner.call(request));
        Box::pin(async move {
            let response = response.await?;
            let header_status = grpc_status(response.headers());
            finish.ec2_attempts = response.extensions().get::<Ec2Attempts>().cloned();
            if let Some(principal) = response.extensions().get::<Principal>() {
                finish.caller = principal.caller_name();
            }
            let observed = Observed {
                finish,
                header_status,
            };
            Ok(response.map(|inner| WatchedBody::new(inner, observed)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http_body::Frame;
    use http_body_util::{BodyExt, StreamBody};
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;
    use tower_test::mock;
    use tracing_subscriber::layer::SubscriberExt;

    /// The `status` of every `rpc` log line, as a tracing layer collects them.
    #[derive(Clone, Default)]
    struct LogLines(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogLines {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct Status<'a>(&'a mut Option<String>);
            impl tracing::field::Visit for Status<'_> {
                fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                    if field.name() == "status" {
                        *self.0 = Some(value.to_owned());
                    }
                }
                fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
            }
            let mut status = None;
            event.record(&mut Status(&mut status));
            self.0.lock().unwrap().extend(status);
        }
    }

    type TestBody = StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

    /// A gRPC response body: one message, then trailers with `grpc-status: code`.
    fn body(code: Code) -> TestBody {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", (code as i32).to_string().parse().unwrap());
        StreamBody::new(stream::iter(vec![
            Ok(Frame::data(Bytes::from_static(b"message"))),
            Ok(Frame::trailers(trailers)),
        ]))
    }

    /// The layer alone, in front of a mock service: the status comes from the trailers when
    /// the body is read to its end, and a body dropped before its end is a CANCELLED call;
    /// each call has exactly one log line.
    #[tokio::test]
    async fn the_status_is_read_from_the_trailers_and_a_dropped_body_is_cancelled() {
        let lines = LogLines::default();
        let _logs =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(lines.clone()));
        let (service, mut handle) = mock::pair::<http::Request<()>, http::Response<TestBody>>();
        let service = ObserveLayer.layer(service);
        let request = || {
            http::Request::builder()
                .uri("/ec2.v1.Ec2Service/DescribeInstances")
                .body(())
                .unwrap()
        };

        // Read to the end: the trailers' NOT_FOUND is the call's status.
        let call = tokio::spawn(service.clone().oneshot(request()));
        let (_, respond) = handle.next_request().await.unwrap();
        respond.send_response(http::Response::new(body(Code::NotFound)));
        let response = call.await.unwrap().unwrap();
        let collected = response.into_body().collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["grpc-status"], "5");
        assert_eq!(*lines.0.lock().unwrap(), ["NOT_FOUND"]);

        // Dropped after its first message: the client went away.
        let call = tokio::spawn(service.clone().oneshot(request()));
        let (_, respond) = handle.next_request().await.unwrap();
        respond.send_response(http::Response::new(body(Code::Ok)));
        let mut response = call.await.unwrap().unwrap().into_body();
        let first = response.frame().await.unwrap().unwrap();
        assert!(first.is_data());
        drop(response);
        assert_eq!(*lines.0.lock().unwrap(), ["NOT_FOUND", "CANCELLED"]);

        // An error answered at once, in the headers (a refusal): its status, once.
        let call = tokio::spawn(service.clone().oneshot(request()));
        let (_, respond) = handle.next_request().await.unwrap();
        let refusal = tonic::Status::unavailable("overloaded").into_http::<()>();
        respond.send_response(refusal.map(|()| StreamBody::new(stream::iter(Vec::new()))));
        let response = call.await.unwrap().unwrap();
        response.into_body().collect().await.unwrap();
        assert_eq!(
            *lines.0.lock().unwrap(),
            ["NOT_FOUND", "CANCELLED", "UNAVAILABLE"]
        );
    }
}
