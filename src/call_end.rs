//! The end of a call, as its response body sees it: the layers that act when a call ends
//! (telemetry's per-call record, the audit event) wrap the response body in `WatchedBody`,
//! which tells them how it ended: its trailers came (a streamed answer's status is there), the
//! body failed, it ended without trailers (the status was in the headers), or it was dropped
//! first (the client went away, a deadline, the end of the shutdown grace).

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// How a response ended.
#[derive(Debug)]
pub enum Ended<'a> {
    /// Its trailers came.
    Trailers(&'a http::HeaderMap),
    /// The body failed.
    Failed,
    /// It ended without trailers.
    Finished,
    /// It was dropped (before its end, or after it: a layer's record is written once).
    Dropped,
}

/// What a layer does when a call ends (told each of the above that happens, in order).
pub trait AtEnd {
    /// The response ended `how`.
    fn ended(&mut self, how: Ended<'_>);
}

/// Nothing to do (a call the layer does not follow).
impl<T: AtEnd> AtEnd for Option<T> {
    fn ended(&mut self, how: Ended<'_>) {
        if let Some(at_end) = self {
            at_end.ended(how);
        }
    }
}

/// A response body that tells `at_end` how the response ended.
pub struct WatchedBody<B, E: AtEnd> {
    inner: Pin<Box<B>>,
    at_end: E,
}

impl<B, E: AtEnd> WatchedBody<B, E> {
    /// `inner`, watched by `at_end`.
    pub fn new(inner: B, at_end: E) -> Self {
        WatchedBody {
            inner: Box::pin(inner),
            at_end,
        }
    }
}

impl<B, E> Body for WatchedBody<B, E>
where
    B: Body<Data = Bytes>,
    E: AtEnd + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    self.at_end.ended(Ended::Trailers(trailers));
                }
            }
            Poll::Ready(Some(Err(_))) => self.at_end.ended(Ended::Failed),
            Poll::Ready(None) => self.at_end.ended(Ended::Finished),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B, E: AtEnd> Drop for WatchedBody<B, E> {
    fn drop(&mut self) {
        self.at_end.ended(Ended::Dropped);
    }
}
