//! Per-caller quotas: each caller gets its own token bucket of gRPC calls, so one caller
//! flooding the service cannot take the EC2 budget from the others. A call over quota is
//! refused at once with RESOURCE_EXHAUSTED and a RetryInfo saying when the caller has a call
//! again. The server puts the layer on `Ec2Service` only: health and reflection are never
//! counted.
//!
//! A caller is its authenticated principal; without authentication, its connection (peer
//! address and port).

use super::budget::Rate;
use super::budget::bucket::Bucket;
use super::stats::Stats;
use crate::auth::caller_of;
use crate::error::Error;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::time::Instant;
use tower::{Layer, Service};

/// Forget idle callers (full buckets) once this many are tracked.
const SWEEP_AT: usize = 10_000;

/// The quotas of every caller.
#[derive(Debug)]
pub struct CallerQuotas {
    /// Calls per second and burst of each caller.
    rate: Rate,
    /// Buckets by caller.
    callers: Mutex<HashMap<String, Bucket>>,
    /// Where refusals are counted.
    stats: Arc<Stats>,
}

impl CallerQuotas {
    /// Each caller may make `per_sec` calls a second, bursting to `burst`.
    pub fn new(per_sec: f64, burst: f64, stats: Arc<Stats>) -> CallerQuotas {
        CallerQuotas {
            rate: Rate {
                capacity: burst.max(1.0),
                refill_per_sec: per_sec,
            },
            callers: Mutex::new(HashMap::new()),
            stats,
        }
    }

    /// Takes one call of `caller`'s quota, or answers the error to send back.
    pub fn admit(&self, caller: &str) -> Result<(), Error> {
        let now = Instant::now();
        let mut callers = self.callers.lock().expect("quota lock");
        if callers.len() >= SWEEP_AT {
            callers.retain(|_, b| {
                b.catch_up(now);
                !b.is_full()
            });
        }
        let bucket = callers
            .entry(caller.to_owned())
            .or_insert_with(|| Bucket::new(self.rate, now));
        bucket.catch_up(now);
        let wait = bucket.wait_for(1.0);
        if !wait.is_zero() {
            self.stats.caller_refused();
            return Err(Error::CallerQuotaExceeded { retry_after: wait });
        }
        bucket.take(1.0);
        Ok(())
    }
}

/// Tower layer applying `CallerQuotas` to every call of the service it wraps.
#[derive(Debug, Clone)]
pub struct CallerQuotaLayer {
    quotas: Arc<CallerQuotas>,
}

impl CallerQuotaLayer {
    /// A layer enforcing `quotas`.
    pub fn new(quotas: Arc<CallerQuotas>) -> Self {
        CallerQuotaLayer { quotas }
    }
}

impl<S> Layer<S> for CallerQuotaLayer {
    type Service = CallerQuota<S>;

    fn layer(&self, inner: S) -> CallerQuota<S> {
        CallerQuota {
            inner,
            quotas: self.quotas.clone(),
        }
    }
}

/// The service `CallerQuotaLayer` makes: the inner service sees only calls within their
/// caller's quota.
#[derive(Debug, Clone)]
pub struct CallerQuota<S> {
    inner: S,
    quotas: Arc<CallerQuotas>,
}

impl<S, B, R> Service<http::Request<B>> for CallerQuota<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if let Err(refused) = self.quotas.admit(&caller_of(&request)) {
            return super::refuse(refused);
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Principal;
    use tonic_types::StatusExt;
    use tower::ServiceExt;
    use tower_test::mock;

    #[test]
    fn each_caller_has_its_own_quota() {
        let quotas = CallerQuotas::new(1.0, 3.0, Arc::new(Stats::default()));
        assert!((0..3).all(|_| quotas.admit("a").is_ok()));
        let refused = quotas.admit("a").unwrap_err();
        assert!(matches!(refused, Error::CallerQuotaExceeded { .. }));
        assert!(quotas.admit("b").is_ok(), "another caller is unaffected");
    }

    /// A request from `principal`, as the auth layer hands it on.
    fn from(principal: &str) -> http::Request<()> {
        let mut request = http::Request::new(());
        request
            .extensions_mut()
            .insert(Principal(principal.to_owned()));
        request
    }

    /// The layer alone, in front of a mock service, on the paused clock: a burst of 2 passes,
    /// the third call is refused with RESOURCE_EXHAUSTED and the RetryInfo of the refill
    /// (never reaching the service), another caller is unaffected, and once the clock has
    /// moved by the retry delay the caller is served again.
    #[tokio::test(start_paused = true)]
    async fn the_layer_refuses_a_caller_over_its_quota_until_its_refill() {
        let stats = Arc::new(Stats::default());
        let quotas = Arc::new(CallerQuotas::new(4.0, 2.0, stats.clone()));
        let (service, mut handle) = mock::pair::<http::Request<()>, http::Response<String>>();
        let service = CallerQuotaLayer::new(quotas).layer(service);
        let answer = tokio::spawn(async move {
            let mut served = Vec::new();
            while let Some((request, respond)) = handle.next_request().await {
                served.push(request.extensions().get::<Principal>().unwrap().0.clone());
                respond.send_response(http::Response::new(String::new()));
            }
            served
        });
        let call = |principal: &str| service.clone().oneshot(from(principal));
        for _ in 0..2 {
            let ok = call("a").await.unwrap();
            assert!(ok.headers().get("grpc-status").is_none(), "served");
        }
        let refused = call("a").await.unwrap();
        let status = tonic::Status::from_header_map(refused.headers()).expect("a status");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let retry = status.get_details_retry_info().expect("RetryInfo");
        let delay = retry.retry_delay.expect("a delay");
        assert_eq!(
            delay.as_millis(),
            255,
            "a quarter second (4/s), with a hair to spare"
        );
        assert!(
            call("b")
                .await
                .unwrap()
                .headers()
                .get("grpc-status")
                .is_none()
        );

        tokio::time::advance(delay).await;
        assert!(
            call("a")
                .await
                .unwrap()
                .headers()
                .get("grpc-status")
                .is_none()
        );
        drop(service);
        let served = answer.await.unwrap();
        assert_eq!(
            served,
            ["a", "a", "b", "a"],
            "the refused call never reached the service"
        );
        assert_eq!(stats.snapshot().caller_refusals, 1);
    }
}
