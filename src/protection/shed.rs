//! Load shedding: at most N gRPC calls are handled at once; one more is refused at once with
//! UNAVAILABLE and a RetryInfo (another replica, or a moment later, can serve it) instead of
//! queueing behind the others until every caller times out. A call counts until its response
//! starts (a stream's messages are not held to the limit). The server puts the layer on
//! `Ec2Service` only: health and reflection are never shed, so probes keep answering under load.

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

/// The service `ShedLayer` makes: the inner service sees at most the limit's calls at once.
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

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;
    use tower::ServiceExt;
    use tower_test::mock;

    /// The layer alone, in front of a mock service: with a limit of 1, a second call while
    /// the first is in flight is refused at once with UNAVAILABLE, reason OVERLOADED and a
    /// RetryInfo, without reaching the service; once the first is answered, the next is served.
    #[tokio::test]
    async fn a_call_over_the_limit_is_refused_at_once_and_the_slot_comes_back() {
        let stats = Arc::new(Stats::default());
        let (service, mut handle) = mock::pair::<http::Request<()>, http::Response<String>>();
        let service = ShedLayer::new(1, stats.clone()).layer(service);

        let first = tokio::spawn(service.clone().oneshot(http::Request::new(())));
        let (_, respond) = handle.next_request().await.expect("the first call arrives");

        let refused = service
            .clone()
            .oneshot(http::Request::new(()))
            .await
            .unwrap();
        let status = tonic::Status::from_header_map(refused.headers()).expect("a status");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "OVERLOADED");
        assert!(status.get_details_retry_info().is_some());
        assert_eq!(stats.snapshot().shed_calls, 1);

        respond.send_response(http::Response::new("first".to_owned()));
        assert_eq!(first.await.unwrap().unwrap().into_body(), "first");

        let third = tokio::spawn(service.clone().oneshot(http::Request::new(())));
        let (_, respond) = handle.next_request().await.expect("the slot came back");
        respond.send_response(http::Response::new("third".to_owned()));
        assert_eq!(third.await.unwrap().unwrap().into_body(), "third");
        assert_eq!(stats.snapshot().shed_calls, 1);
    }
}
