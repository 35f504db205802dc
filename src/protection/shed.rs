//! Load shedding: at most N gRPC calls are handled at once; one more is refused at once with
//! UNAVAILABLE and a RetryInfo (another replica, or a moment later, can serve it) instead of
//! queueing behind the others until every caller times out. A call counts until its response
//! starts (a stream's messages are not held to the limit). Health and reflection are never
//! shed, so probes keep answering under load.

use super::caller_quota::is_infrastructure;
use super::stats::Stats;
use crate::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::Semaphore;
use tower::{Layer, Service};

/// Tower layer shedding calls beyond a concurrency limit shared by all connections.
#[derive(Debug, Clone)]
pub struct ShedLayer {
    slots: Arc<Semaphore>,
    stats: Arc<Stats>,
}

impl ShedLayer {
    /// At most `limit` calls at once.
    pub fn new(limit: usize, stats: Arc<Stats>) -> Self {
        ShedLayer {
            slots: Arc::new(Semaphore::new(limit.max(1))),
            stats,
        }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            slots: self.slots.clone(),
            stats: self.stats.clone(),
        }
    }
}

/// The service `ShedLayer` makes.
#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    slots: Arc<Semaphore>,
    stats: Arc<Stats>,
}

impl<S, B, R> Service<http::Request<B>> for Shed<S>
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
        if is_infrastructure(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let response = self.inner.call(request);
                Box::pin(async move {
                    let response = response.await;
                    drop(slot);
                    response
                })
            }
            Err(_) => {
                self.stats.shed();
                super::refuse(Error::Overloaded)
            }
        }
    }
}
