//! Per-caller quotas: each caller gets its own token bucket of gRPC calls, so one caller
//! flooding the service cannot take the EC2 budget from the others. A call over quota is
//! refused at once with RESOURCE_EXHAUSTED and a RetryInfo saying when the caller has a call
//! again. Health and reflection are never counted.
//!
//! A caller is its authenticated principal; without authentication, its connection (peer
//! address and port).

use super::budget::{Bucket, Rate};
use super::stats::Stats;
use crate::auth::Principal;
use crate::error::Error;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use tonic::transport::server::TcpConnectInfo;
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

/// Tower layer applying `CallerQuotas` to every call but health and reflection.
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

/// The service `CallerQuotaLayer` makes.
#[derive(Debug, Clone)]
pub struct CallerQuota<S> {
    inner: S,
    quotas: Arc<CallerQuotas>,
}

/// Who is calling: the authenticated principal, else the peer address and port.
pub fn caller_of<B>(request: &http::Request<B>) -> String {
    if let Some(principal) = request.extensions().get::<Principal>() {
        return principal.caller_name();
    }
    request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .map_or_else(|| "unknown".to_owned(), |a| a.to_string())
}

/// Whether a gRPC path is health or reflection, which quotas never count.
pub fn is_infrastructure(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
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
        if !is_infrastructure(request.uri().path()) {
            let caller = caller_of(&request);
            if let Err(refused) = self.quotas.admit(&caller) {
                return super::refuse(refused);
            }
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_caller_has_its_own_quota() {
        let quotas = CallerQuotas::new(1.0, 3.0, Arc::new(Stats::default()));
        assert!((0..3).all(|_| quotas.admit("a").is_ok()));
        let refused = quotas.admit("a").unwrap_err();
        assert!(matches!(refused, Error::CallerQuotaExceeded { .. }));
        assert!(quotas.admit("b").is_ok(), "another caller is unaffected");
    }
}
