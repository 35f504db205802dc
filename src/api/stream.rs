//! Server-streamed describes: EC2 pages become a stream of gRPC messages.
//!
//! The stream is pulled: the next EC2 page is fetched only when tonic asks for the next
//! message, which HTTP/2 flow control ties to the client reading, so a slow client slows the
//! paging and at most one page is held in memory. When the client cancels or disconnects,
//! tonic drops the stream and the paging stops (an EC2 call in flight is dropped with it).
//!
//! Every message carries the token that resumes right after it: an opaque token of the
//! gateway's, naming EC2's page token, the page size and how many of the page's items were
//! already delivered (a page can be split by `limit` or by the message size cap), and bound to
//! the request it continues (AIP-158): a token sent back with other ids, filters or scope is
//! INVALID_ARGUMENT rather than a silently different listing.

use crate::call::{self, Call};
use crate::error::Error;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::stream::{self, Stream};
use prost::Message;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use tonic::Status;

/// Largest encoded size of the items of one message: under gRPC's 4 MiB default message limit,
/// with room for the message's own fields.
pub const MAX_MESSAGE_BYTES: usize = 3 * 1024 * 1024;

/// Page size of a streamed describe when the caller sets none (EC2's maximum).
pub const DEFAULT_PAGE_SIZE: i32 = 1000;

/// The smallest page EC2 accepts.
const MIN_PAGE_SIZE: i32 = 5;

/// The first byte of a resume token: its format's version, so the format can change.
const TOKEN_VERSION: u8 = 2;

/// Identifies the request a resume token continues: what selects the items (ids, filters,
/// the caller's scope, ...), not how they are paged (`max_results`, `limit`, the token).
pub type Fingerprint = u64;

/// The fingerprint of `request` (with its paging fields cleared by the caller) within
/// `scope_tag`, the caller's tag scope if it has one.
pub fn fingerprint(request: &impl Message, scope_tag: Option<&str>) -> Fingerprint {
    let mut hash = Sha256::new();
    hash.update(request.encode_to_vec());
    hash.update([0]);
    hash.update(scope_tag.unwrap_or_default());
    let digest = hash.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes of a SHA-256"))
}

/// A stream of messages, as tonic's server-streaming RPCs return it.
pub type MessageStream<M> = Pin<Box<dyn Stream<Item = Result<M, Status>> + Send>>;

/// A stream of exactly `message` (a preview, the answer to a dry run).
pub fn single<M: Send + 'static>(message: M) -> MessageStream<M> {
    Box::pin(stream::once(async { Ok(message) }))
}

/// One page as EC2 answered it.
pub struct Page<I> {
    /// The page's items, in EC2's order.
    pub items: Vec<I>,
    /// EC2's token for the next page; `None` on the last page.
    pub next_token: Option<String>,
}

/// What a streamed describe needs from its EC2 operation.
pub trait Describe: Send + 'static {
    /// The unit that `limit` counts and that messages are split by (an instance, an ENI).
    type Item: Message + Send + 'static;
    /// The streamed message.
    type Message: Send + 'static;

    /// Fetches the page that starts at `token`, of at most `page_size` items.
    fn fetch(
        &self,
        token: Option<String>,
        page_size: Option<i32>,
    ) -> impl Future<Output = Result<Page<Self::Item>, Error>> + Send;

    /// Packs `items` into one message with the token that resumes after it.
    fn message(&self, items: Vec<Self::Item>, next_token: String) -> Self::Message;

    /// The one message answering a dry run that EC2 found permitted.
    fn dry_run_succeeded(&self) -> Self::Message;
}

/// Where a stream stands: the request it serves, the page being read (its EC2 token and
/// size) and how many of its items were delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The request this position belongs to.
    request: Fingerprint,
    /// EC2's token for the page; `None` for the first page.
    page_token: Option<String>,
    /// The `MaxResults` the page was fetched with (`None`: describing by ids).
    page_size: Option<i32>,
    /// Items of the page already delivered.
    skip: usize,
}

impl Position {
    /// The position a request's `next_token` names: empty is the start; else a token this
    /// service issued for the same request. `page_size` is the request's.
    pub fn parse(
        token: &str,
        page_size: Option<i32>,
        request: Fingerprint,
    ) -> Result<Position, Error> {
        if token.is_empty() {
            return Ok(Position {
                request,
                page_token: None,
                page_size,
                skip: 0,
            });
        }
        let invalid = || {
            Error::invalid_field(
                "next_token",
                "not a token this service issued for a stream: send back a streamed message's \
                 next_token, or none to start",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let (&version, rest) = bytes.split_first().ok_or_else(invalid)?;
        if version != TOKEN_VERSION || rest.len() < 16 {
            return Err(invalid());
        }
        let (fixed, page_token) = rest.split_at(16);
        let word = |at: usize, n: usize| &fixed[at..at + n];
        let issued_for = u64::from_le_bytes(word(0, 8).try_into().expect("8 bytes"));
        let size = i32::from_le_bytes(word(8, 4).try_into().expect("4 bytes"));
        let skip = u32::from_le_bytes(word(12, 4).try_into().expect("4 bytes"));
        if issued_for != request {
            return Err(Error::invalid_field(
                "next_token",
                "the token continues another request (other ids, filters or scope): resume \
                 with the request it came from, or start without a token",
            ));
        }
        let page_token = String::from_utf8(page_token.to_vec()).map_err(|_| invalid())?;
        Ok(Position {
            request,
            page_token: (!page_token.is_empty()).then_some(page_token),
            page_size: (size > 0).then_some(size),
            skip: skip as usize,
        })
    }

    /// The describe's own page token where this position stands (`None`: the first page).
    pub fn page_token(&self) -> Option<&str> {
        self.page_token.as_deref()
    }

    /// The token that resumes here.
    fn token(&self) -> String {
        let page_token = self.page_token.as_deref().unwrap_or_default();
        let mut bytes = Vec::with_capacity(17 + page_token.len());
        bytes.push(TOKEN_VERSION);
        bytes.extend(self.request.to_le_bytes());
        bytes.extend(self.page_size.unwrap_or(0).to_le_bytes());
        bytes.extend(u32::try_from(self.skip).unwrap_or(u32::MAX).to_le_bytes());
        bytes.extend(page_token.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// The paging state machine behind one stream.
struct Pager<D: Describe> {
    /// The EC2 operation.
    describe: D,
    /// The caller's page size (`None` when describing by ids).
    page_size: Option<i32>,
    /// At most this many items in total.
    limit: Option<usize>,
    /// Items delivered so far.
    sent: usize,
    /// The page being read.
    position: Position,
    /// Its items not yet delivered.
    buffer: VecDeque<D::Item>,
    /// EC2's token after the page being read.
    page_next: Option<String>,
    /// Whether `buffer` holds a fetched page.
    fetched: bool,
    /// Nothing more to send.
    finished: bool,
    /// The RPC this stream serves: pages are fetched outside its handler.
    call: Option<Call>,
}

impl<D: Describe> Pager<D> {
    /// The next message, fetching a page when the buffered one is used up.
    async fn next(&mut self) -> Option<Result<D::Message, Error>> {
        if self.finished {
            return None;
        }
        while self.buffer.is_empty() {
            if self.fetched {
                let next_page = self.page_next.take()?;
                self.position = Position {
                    request: self.position.request,
                    page_token: Some(next_page),
                    page_size: self.next_page_size(),
                    skip: 0,
                };
            }
            let fetch = self
                .describe
                .fetch(self.position.page_token.clone(), self.position.page_size);
            let page = call::within(self.call.clone(), fetch).await;
            match page {
                Ok(page) => {
                    self.fetched = true;
                    self.buffer = page.items.into_iter().skip(self.position.skip).collect();
                    self.page_next = page.next_token.filter(|t| !t.is_empty());
                    if self.buffer.is_empty() && self.page_next.is_none() {
                        self.finished = true;
                        return None;
                    }
                }
                Err(e) => {
                    self.finished = true;
                    return Some(if e.is_dry_run_success() {
                        Ok(self.describe.dry_run_succeeded())
                    } else {
                        Err(e)
                    });
                }
            }
        }
        let items = self.take_message_items();
        self.sent += items.len();
        self.position.skip += items.len();
        let limit_reached = self.limit.is_some_and(|limit| self.sent >= limit);
        let next_token = match (&self.page_next, self.buffer.is_empty()) {
            // The page is used up: the start of the next one, or nothing when there is none.
            (Some(next_page), true) => Position {
                request: self.position.request,
                page_token: Some(next_page.clone()),
                page_size: self.next_page_size(),
                skip: 0,
            }
            .token(),
            (None, true) => String::new(),
            (_, false) => self.position.token(),
        };
        self.finished = limit_reached || (self.buffer.is_empty() && self.page_next.is_none());
        Some(Ok(self.describe.message(items, next_token)))
    }

    /// Takes items off the buffer for one message: at least one, within `limit`, and within
    /// `MAX_MESSAGE_BYTES`.
    fn take_message_items(&mut self) -> Vec<D::Item> {
        let room = self.limit.map_or(usize::MAX, |limit| limit - self.sent);
        let mut items = Vec::new();
        let mut bytes = 0;
        while items.len() < room {
            let Some(size) = self.buffer.front().map(|item| item.encoded_len() + 8) else {
                break;
            };
            if !items.is_empty() && bytes + size > MAX_MESSAGE_BYTES {
                break;
            }
            bytes += size;
            items.extend(self.buffer.pop_front());
        }
        items
    }

    /// The page size for the next page: the caller's, shrunk to what `limit` still allows
    /// (never below EC2's minimum), so EC2 is not asked for items the stream would drop.
    fn next_page_size(&self) -> Option<i32> {
        let size = self.page_size?;
        let Some(limit) = self.limit else {
            return Some(size);
        };
        let remaining = i32::try_from(limit - self.sent).unwrap_or(i32::MAX);
        Some(size.min(remaining).max(MIN_PAGE_SIZE))
    }
}

/// Where a streamed describe starts and how many items it may deliver, from its request
/// (`request`: its fingerprint): describing by ids sends no page size (EC2 refuses one);
/// otherwise the caller's or 1000.
pub fn start(
    request: Fingerprint,
    by_ids: bool,
    max_results: Option<i32>,
    next_token: &str,
    limit: Option<i32>,
) -> Result<(Position, Option<usize>), Error> {
    let page_size = (!by_ids).then(|| max_results.unwrap_or(DEFAULT_PAGE_SIZE));
    let position = Position::parse(next_token, page_size, request)?;
    // Validation guarantees limit >= 1, so the conversion cannot fail.
    let limit = limit.and_then(|n| usize::try_from(n).ok());
    Ok((position, limit))
}

/// Streams `describe` from `start`, delivering at most `limit` items.
pub fn stream<D: Describe>(
    describe: D,
    start: Position,
    limit: Option<usize>,
) -> MessageStream<D::Message> {
    let mut pager = Pager {
        describe,
        page_size: start.page_size,
        limit,
        sent: 0,
        position: start,
        buffer: VecDeque::new(),
        page_next: None,
        fetched: false,
        finished: false,
        call: Call::current(),
    };
    if pager.position.skip == 0 {
        pager.position.page_size = pager.next_page_size();
    }
    Box::pin(stream::unfold(pager, |mut pager| async move {
        let message = pager.next().await?;
        Some((message.map_err(Status::from), pager))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;
    use futures_util::StreamExt;
    use std::sync::{Arc, Mutex};

    /// The (token, page size) of every fetch a fake answered.
    type FetchLog = Arc<Mutex<Vec<(Option<String>, Option<i32>)>>>;

    /// A fake EC2 with `pages` pages of tags (tags stand in for instances), logging fetches.
    struct Fake {
        pages: Vec<Vec<pb::Tag>>,
        fetches: FetchLog,
    }

    impl Describe for Fake {
        type Item = pb::Tag;
        type Message = (Vec<String>, String);

        async fn fetch(
            &self,
            token: Option<String>,
            page_size: Option<i32>,
        ) -> Result<Page<pb::Tag>, Error> {
            self.fetches
                .lock()
                .unwrap()
                .push((token.clone(), page_size));
            let index: usize = token.map_or(0, |t| t.parse().unwrap());
            let next = index + 1;
            Ok(Page {
                items: self.pages[index].clone(),
                next_token: (next < self.pages.len()).then(|| next.to_string()),
            })
        }

        fn message(&self, items: Vec<pb::Tag>, next_token: String) -> Self::Message {
            (items.into_iter().map(|t| t.key).collect(), next_token)
        }

        fn dry_run_succeeded(&self) -> Self::Message {
            (vec![], "dry-run".into())
        }
    }

    fn tag(key: &str, value_bytes: usize) -> pb::Tag {
        pb::Tag {
            key: key.into(),
            value: "v".repeat(value_bytes),
        }
    }

    fn fake(pages: Vec<Vec<pb::Tag>>) -> (Fake, FetchLog) {
        let fetches = Arc::new(Mutex::new(Vec::new()));
        (
            Fake {
                pages,
                fetches: fetches.clone(),
            },
            fetches,
        )
    }

    async fn collect(s: MessageStream<(Vec<String>, String)>) -> Vec<(Vec<String>, String)> {
        s.map(|m| m.expect("message")).collect().await
    }

    /// The fingerprint of the tests' one request.
    const REQUEST: Fingerprint = 7;

    fn start(size: i32) -> Position {
        Position::parse("", Some(size), REQUEST).unwrap()
    }

    #[tokio::test]
    async fn pages_become_messages_with_ec2_tokens_at_page_ends() {
        let (f, fetches) = fake(vec![vec![tag("a", 1), tag("b", 1)], vec![tag("c", 1)]]);
        let got = collect(stream(f, start(5), None)).await;
        let items: Vec<_> = got.iter().map(|(items, _)| items.clone()).collect();
        assert_eq!(items, [vec!["a".to_owned(), "b".into()], vec!["c".into()]]);
        // The first message's token is the start of EC2's page "1"; the last has none.
        let resume = Position::parse(&got[0].1, Some(5), REQUEST).unwrap();
        assert_eq!((resume.page_token.as_deref(), resume.skip), (Some("1"), 0));
        assert_eq!(got[1].1, "");
        assert_eq!(fetches.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_page_over_the_size_cap_is_split_and_every_split_resumes_exactly() {
        // 5 items of 1 MiB: at most 2 fit a 3 MiB message.
        let big: Vec<_> = (0..5).map(|i| tag(&i.to_string(), 1 << 20)).collect();
        let (f, _) = fake(vec![big.clone(), vec![tag("last", 1)]]);
        let got = collect(stream(f, start(1000), None)).await;
        let sizes: Vec<_> = got.iter().map(|(items, _)| items.len()).collect();
        assert_eq!(sizes, [2, 2, 1, 1]);
        // Resuming from each message's token delivers exactly what followed it.
        for (i, (_, token)) in got.iter().enumerate().take(got.len() - 1) {
            let (f, _) = fake(vec![big.clone(), vec![tag("last", 1)]]);
            let resumed = collect(stream(
                f,
                Position::parse(token, Some(1000), REQUEST).unwrap(),
                None,
            ))
            .await;
            let rest: Vec<_> = resumed.into_iter().flat_map(|(items, _)| items).collect();
            let expected: Vec<_> = got[i + 1..]
                .iter()
                .flat_map(|(items, _)| items.clone())
                .collect();
            assert_eq!(rest, expected, "resuming after message {i}");
        }
    }

    #[tokio::test]
    async fn limit_caps_the_total_and_shrinks_the_page_size() {
        let pages: Vec<Vec<_>> = (0..4)
            .map(|p| (0..10).map(|i| tag(&format!("{p}-{i}"), 1)).collect())
            .collect();
        let (f, fetches) = fake(pages);
        let got = collect(stream(f, start(10), Some(13))).await;
        let delivered: usize = got.iter().map(|(items, _)| items.len()).sum();
        assert_eq!(delivered, 13);
        // The last message stops inside page 2; its token resumes there.
        let resume = Position::parse(&got.last().unwrap().1, Some(10), REQUEST).unwrap();
        assert_eq!((resume.page_token.as_deref(), resume.skip), (Some("1"), 3));
        // The first page is asked at the caller's size, the second at what the limit leaves
        // (3, raised to EC2's minimum of 5); no third page is fetched.
        assert_eq!(
            *fetches.lock().unwrap(),
            [(None, Some(10)), (Some("1".into()), Some(5))]
        );
    }

    #[test]
    fn tokens_are_bound_to_their_request_and_forged_ones_are_refused() {
        let inside = Position {
            request: REQUEST,
            page_token: Some("a:b".into()),
            page_size: None,
            skip: 7,
        };
        let token = inside.token();
        assert_eq!(Position::parse(&token, Some(50), REQUEST).unwrap(), inside);
        let other = Position::parse(&token, None, REQUEST + 1).unwrap_err();
        assert!(other.to_string().contains("another request"), "{other}");
        for forged in ["ec2grpc-resume-v1:5:oops", "eyJ2IjoiMiJ9", "AgAA", "!!"] {
            let refused = Position::parse(forged, None, REQUEST).unwrap_err();
            assert!(
                refused.to_string().contains("next_token"),
                "{forged}: {refused}"
            );
        }
    }

    #[test]
    fn the_fingerprint_is_the_request_and_the_scope() {
        let a = pb::Tag {
            key: "team".into(),
            value: "a".into(),
        };
        let b = pb::Tag {
            key: "team".into(),
            value: "b".into(),
        };
        assert_eq!(fingerprint(&a, None), fingerprint(&a.clone(), None));
        assert_ne!(fingerprint(&a, None), fingerprint(&b, None));
        assert_ne!(fingerprint(&a, None), fingerprint(&a, Some("owner=x")));
    }

    /// Arbitrary tokens (garbage, near-misses of real ones) never panic the parser.
    #[test]
    fn arbitrary_stream_tokens_never_panic() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        const CASES: u32 = 10_000;
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(
                &(
                    "(AgcAAAAAAAAA)?[A-Za-z0-9_-]{0,40}",
                    prop::option::of(5i32..1000),
                ),
                |(t, size)| {
                    let _ = Position::parse(&t, size, REQUEST);
                    Ok(())
                },
            )
            .expect("property holds");
        println!("proptest: {CASES} arbitrary resume tokens parsed");
    }
}
