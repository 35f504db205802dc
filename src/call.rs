//! The context of the gRPC call being served, carried to every piece of work it causes, even
//! work that runs elsewhere (a shared describe in its own task, a stream's next page):
//!
//! - its deadline (`grpc-timeout`): the budget refuses a wait that cannot fit it, and an EC2
//!   attempt still running at it is cut off;
//! - its tracing span: EC2 attempts are its children, in the caller's trace;
//! - the count of EC2 attempts it caused, for its log line;
//! - its audit notes, when the call is audited: what it reached, the EC2 calls it made with
//!   their AWS request ids, the resources it acted on (`Notes`, kept by `audit`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::Instrument;

tokio::task_local! {
    /// The call the current task serves.
    static CALL: Call;
}

/// One gRPC call's context.
#[derive(Debug, Clone)]
pub struct Call {
    /// When the caller stops waiting.
    pub deadline: Option<Instant>,
    /// EC2 attempts made for this call so far.
    pub ec2_attempts: Arc<AtomicU64>,
    /// The call's span.
    pub span: tracing::Span,
    /// The call's audit notes, once the audit layer set them.
    pub notes: Arc<OnceLock<Arc<dyn Notes>>>,
}

/// What a call's audit record takes in as the call goes (kept by `audit::Record`; a trait
/// here so the layers below the audit depend on none of it).
pub trait Notes: Send + Sync + std::fmt::Debug {
    /// The request, protobuf-encoded (turned into its parameters only if they are written).
    fn request(&self, encoded: Vec<u8>);
    /// The target the call reached, and the `SourceIdentity` of the session its EC2 calls
    /// are signed with (when the account gives each caller its own).
    fn target(&self, account: &str, region: &str, source_identity: Option<&str>);
    /// One EC2 HTTP attempt's answer: the action, AWS's request id, the HTTP status.
    fn ec2_call(&self, action: &str, request_id: Option<&str>, http_status: u16);
    /// Resources the call acted on (or resolved a selection to).
    fn resources(&self, ids: &[String]);
    /// One step of a streamed change done (a batch of an instance action, one deletion of
    /// an interface cleanup): its number, the resources it acted on, whether it was a dry
    /// run, its failure if it failed.
    fn step(
        &self,
        number: i64,
        resources: &[String],
        dry_run: bool,
        failure: Option<&crate::pb::BatchFailure>,
    );
}

/// The EC2 attempts of one call, put in the response's extensions for the layers outside.
#[derive(Debug, Clone)]
pub struct Ec2Attempts(pub Arc<AtomicU64>);

impl Call {
    /// This call's audit notes, when it is audited (for work outside the call's task).
    pub fn notes_here(&self) -> Option<Arc<dyn Notes>> {
        self.notes.get().cloned()
    }

    /// The call served here, if any (to carry it into work that runs elsewhere).
    pub fn current() -> Option<Call> {
        CALL.try_with(Call::clone).ok()
    }

    /// The deadline of the call served here.
    pub fn deadline() -> Option<Instant> {
        CALL.try_with(|c| c.deadline).ok().flatten()
    }

    /// Counts one EC2 attempt for the call served here.
    pub fn count_ec2_attempt() {
        let _ = CALL.try_with(|c| c.ec2_attempts.fetch_add(1, Ordering::Relaxed));
    }

    /// The audit notes of the call served here, when it is audited.
    pub fn notes() -> Option<Arc<dyn Notes>> {
        CALL.try_with(|c| c.notes.get().cloned()).ok().flatten()
    }

    /// Gives the call served here its audit notes (the audit layer, once).
    pub fn set_notes(notes: Arc<dyn Notes>) {
        let _ = CALL.try_with(|c| c.notes.set(notes));
    }
}

/// Runs `future` in `call`'s context (deadline, span, attempt count), or as it is without one.
pub async fn within<F: Future>(call: Option<Call>, future: F) -> F::Output {
    match call {
        Some(call) => {
            let span = call.span.clone();
            CALL.scope(call, future.instrument(span)).await
        }
        None => future.await,
    }
}

/// Parses a `grpc-timeout` header value: up to 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Tower layer: serves each request in its own `Call` (deadline from `grpc-timeout`, the
/// current span, a fresh attempt count), and hands the attempt count out in the response.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallScopeLayer;

impl<S> Layer<S> for CallScopeLayer {
    type Service = CallScope<S>;

    fn layer(&self, inner: S) -> CallScope<S> {
        CallScope { inner }
    }
}

/// The service `CallScopeLayer` makes: the inner service runs inside the request's `Call`.
#[derive(Debug, Clone)]
pub struct CallScope<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for CallScope<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map(|timeout| Instant::now() + timeout);
        let attempts = Arc::new(AtomicU64::new(0));
        let call = Call {
            deadline,
            ec2_attempts: attempts.clone(),
            span: tracing::Span::current(),
            notes: Arc::default(),
        };
        let response = CALL.sync_scope(call.clone(), || self.inner.call(request));
        Box::pin(async move {
            let mut response = within(Some(call), response).await?;
            response.extensions_mut().insert(Ec2Attempts(attempts));
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789m"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
    }

    #[tokio::test]
    async fn the_call_is_visible_inside_its_scope_only() {
        let at = Instant::now() + Duration::from_secs(1);
        let call = Call {
            deadline: Some(at),
            ec2_attempts: Arc::new(AtomicU64::new(0)),
            span: tracing::Span::none(),
            notes: Arc::default(),
        };
        let seen = within(Some(call.clone()), async {
            Call::count_ec2_attempt();
            Call::deadline()
        })
        .await;
        assert_eq!(seen, Some(at));
        assert_eq!(call.ec2_attempts.load(Ordering::Relaxed), 1);
        assert_eq!(Call::deadline(), None);
    }

    /// The layer alone, in front of a service that reads its call: the service sees the
    /// deadline of `grpc-timeout` on the paused clock, and the attempts it counts reach the
    /// response's extensions.
    #[tokio::test(start_paused = true)]
    async fn the_layer_gives_each_request_its_deadline_and_hands_out_its_attempts() {
        use tower::ServiceExt;
        let inner = tower::service_fn(|_request: http::Request<()>| async {
            Call::count_ec2_attempt();
            Call::count_ec2_attempt();
            let mut response = http::Response::new(());
            response.extensions_mut().insert(Call::deadline());
            Ok::<_, std::convert::Infallible>(response)
        });
        let started = Instant::now();
        let request = http::Request::builder()
            .header("grpc-timeout", "1500m")
            .body(())
            .unwrap();
        let response = CallScopeLayer.layer(inner).oneshot(request).await.unwrap();
        let deadline = response.extensions().get::<Option<Instant>>().copied();
        assert_eq!(deadline, Some(Some(started + Duration::from_millis(1500))));
        let attempts = response
            .extensions()
            .get::<Ec2Attempts>()
            .expect("attempts");
        assert_eq!(attempts.0.load(Ordering::Relaxed), 2);

        // Without grpc-timeout there is no deadline.
        let inner = tower::service_fn(|_request: http::Request<()>| async {
            let mut response = http::Response::new(());
            response.extensions_mut().insert(Call::deadline());
            Ok::<_, std::convert::Infallible>(response)
        });
        let response = CallScopeLayer
            .layer(inner)
            .oneshot(http::Request::new(()))
            .await
            .unwrap();
        assert_eq!(response.extensions().get::<Option<Instant>>(), Some(&None));
    }
}
