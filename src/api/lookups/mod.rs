//! The lookup RPCs (proto/lookups.toml): the describes a launch depends on, served as EC2
//! answers them. One generic path serves every lookup (validation, target, tag scope, DryRun,
//! coalescing, `max_staleness` answers from the target's memory, streaming), and `table`
//! (generated from the TOML table) says what each one's request, answer and items are.

mod table;

pub(crate) use table::lookup_rpcs;

use super::stream::{self, Describe, MessageStream, Page};
use super::{Gateway, Targeted, answered, unless_dry_run};
use crate::auth::scope::TagScope;
use crate::ec2::lookup_calls::KEPT_ITEMS;
use crate::ec2::{DescribePage, Ec2};
use crate::error::Error;
use crate::pb;
use aws_sdk_ec2::Client;
use futures_util::future::BoxFuture;
use prost::Message;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tonic::{Request, Response, Status};

/// A service method's future, as `#[tonic::async_trait]` writes it: `lookup_rpcs!` spells the
/// methods out in that form, since the attribute does not see into a macro.
pub type Rpc<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Status>> + Send + 'a>>;

/// How a caller's tag scope applies to a lookup (the table's `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoping {
    /// The items carry tags: by filters, the scope's tag filter is added; by ids, an item
    /// outside the scope is PERMISSION_DENIED.
    Tags,
    /// As `Tags` for private items; public items (public images) are every caller's.
    PublicOrTags,
    /// Items of instances (their status): the caller names the instances, each checked
    /// against the scope before the call.
    Instances,
    /// Versions of a launch template: the caller names the template, which must carry the
    /// scope's tag.
    Template,
    /// Not an account's resources (instance types, zones): no scope applies.
    None,
}

/// What the items of a lookup belong to, for the scope checks made before the call.
#[derive(Debug, Clone, Copy)]
pub enum Parent<'a> {
    /// Nothing to check first.
    None,
    /// The instances named (DescribeInstanceStatus' `instance_ids`).
    Instances(&'a [String]),
    /// The launch template named, by id or name.
    Template {
        /// `launch_template_id`.
        id: &'a str,
        /// `launch_template_name`.
        name: &'a str,
    },
}

/// What the scope needs to know of an item.
#[derive(Debug, Clone, Copy)]
pub struct Scoped<'a> {
    /// Its id, named in refusals.
    pub id: &'a str,
    /// Its tags.
    pub tags: &'a [pb::Tag],
    /// Whether everyone may see it (a public image).
    pub public: bool,
}

/// One EC2 answer: the items of a page and the token of the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<I> {
    /// The page's items, converted.
    pub items: Vec<I>,
    /// EC2's token of the next page.
    pub next_token: Option<String>,
}

/// How a streamed lookup pages: what its request says beyond the describe.
#[derive(Debug, Clone, Default)]
pub struct Paging {
    /// EC2's page size.
    pub max_results: Option<i32>,
    /// Where a previous stream stopped.
    pub next_token: String,
    /// The most items in all.
    pub limit: Option<i32>,
}

/// A lookup RPC's request: what the generic path needs of it (implemented in `table`).
pub trait Lookup: Message + Clone + Default + Targeted + Send + Sync + Sized + 'static {
    /// The EC2 action, also the RPC's name.
    const ACTION: &'static str;
    /// How a tag scope applies.
    const SCOPE: Scoping;
    /// Whether answers are kept for `max_staleness` (slow-changing data).
    const CACHE: bool;
    /// The item of the answer, as the contract has it.
    type Item: Message + Clone + Send + Sync + 'static;
    /// The RPC's answer.
    type Response: Send + 'static;

    /// INVALID_ARGUMENT naming every bad field; before any EC2 call.
    fn check(&self) -> Result<(), Error>;
    /// Whether the request names its items by id (then the scope checks them, not a filter).
    fn by_ids(&self) -> bool;
    /// The request's EC2 filters (the scope adds its tag filter).
    fn filters_mut(&mut self) -> &mut Vec<pb::Filter>;
    /// Whether this is a permission check only.
    fn dry_run(&self) -> bool;
    /// The caller's `max_staleness`, where the lookup has one.
    fn max_staleness(&self) -> Option<&prost_types::Duration>;
    /// The request as coalescing and the memory key it: without DryRun and `max_staleness`.
    fn for_key(&self) -> Self;
    /// What the items belong to, for scope checks before the call.
    fn parent(&self) -> Parent<'_>;
    /// The EC2 call this request makes, and its answer converted.
    fn send(&self, client: &Client) -> BoxFuture<'static, Result<Answer<Self::Item>, Error>>;
    /// What the scope needs of an item.
    fn scoped(item: &Self::Item) -> Scoped<'_>;
    /// The RPC's answer, with its age when the memory answered.
    fn response(
        answer: Answer<Self::Item>,
        staleness: Option<prost_types::Duration>,
    ) -> Self::Response;
    /// The RPC's answer to a DryRun EC2 allowed.
    fn dry_run_succeeded() -> Self::Response;
}

/// A streamed lookup RPC's request: the lookup it pages through, and its messages.
pub trait StreamedLookup: Targeted + Message + Send + Sized + 'static {
    /// The describe each page is.
    type Lookup: Lookup;
    /// One message of the stream.
    type Message: Send + 'static;

    /// INVALID_ARGUMENT naming every bad field; before any EC2 call.
    fn check(&self) -> Result<(), Error>;
    /// The describe of the whole selection, and how to page it.
    fn split(self) -> (Self::Lookup, Paging);
    /// `lookup` asking for one page.
    fn paged(
        lookup: &Self::Lookup,
        max_results: Option<i32>,
        next_token: Option<String>,
    ) -> Self::Lookup;
    /// A message of the stream.
    fn message(items: Vec<<Self::Lookup as Lookup>::Item>, next_token: String) -> Self::Message;
    /// The one message answering a DryRun EC2 allowed.
    fn dry_run_succeeded() -> Self::Message;
}

impl Gateway {
    /// Serves a lookup RPC: the target, the checks, then `lookup`.
    pub(super) async fn lookup<L: Lookup>(
        &self,
        request: Request<L>,
    ) -> Result<Response<L::Response>, Status> {
        let (request, scope, at) = self.reach(request).await?;
        request.check()?;
        let response = lookup(&at.ec2, request, scope.as_ref()).await?;
        Ok(answered(response, &at))
    }

    /// Serves a streamed lookup RPC: every page of its describe, resumable.
    pub(super) async fn lookup_stream<S: StreamedLookup>(
        &self,
        request: Request<S>,
    ) -> Result<Response<MessageStream<S::Message>>, Status> {
        let (request, scope, at) = self.reach(request).await?;
        request.check()?;
        let (mut lookup, paging) = request.split();
        if let Some(scope) = &scope {
            admit(&at.ec2, &mut lookup, scope).await?;
        }
        // The token binds to what selects the items (the scope's filter included).
        let scope_tag = scope.as_ref().map(TagScope::tag);
        let (start, limit) = stream::start(
            stream::fingerprint(&lookup.for_key(), scope_tag.as_deref()),
            lookup.by_ids(),
            paging.max_results,
            &paging.next_token,
            paging.limit,
        )?;
        let pages = Pages::<S> {
            ec2: at.ec2.clone(),
            lookup,
            scope,
        };
        Ok(answered(stream::stream(pages, start, limit), &at))
    }
}

/// One lookup: the scope's checks and filter, then EC2 (or the memory, or an identical call
/// in flight), then the scope's check of the items.
pub async fn lookup<L: Lookup>(
    ec2: &Ec2,
    mut request: L,
    scope: Option<&TagScope>,
) -> Result<L::Response, Error> {
    if let Some(scope) = scope {
        admit(ec2, &mut request, scope).await?;
    }
    if request.dry_run() {
        let result = request
            .send(&ec2.client)
            .await
            .map(|a| L::response(a, None));
        return unless_dry_run(result, L::dry_run_succeeded);
    }
    let (mut answer, staleness) = fetch(ec2, &request).await?;
    if let Some(scope) = scope {
        answer.items = within::<L>(scope, request.by_ids(), answer.items)?;
    }
    let staleness = staleness.map(|age| prost_types::Duration::try_from(age).unwrap_or_default());
    Ok(L::response(answer, staleness))
}

/// The answer of `request`: from the target's memory when the caller allows its age, else
/// from EC2, shared with an identical call in flight (and kept, for lookups that keep).
async fn fetch<L: Lookup>(
    ec2: &Ec2,
    request: &L,
) -> Result<(Answer<L::Item>, Option<Duration>), Error> {
    // A digest of the request (its scope filter included), not the request: keys stay small.
    let digest = Sha256::digest(request.for_key().encode_to_vec());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let key = format!("{}|{hex}", L::ACTION);
    // Negative durations are refused by validation first.
    let max_age = request
        .max_staleness()
        .map(|d| Duration::try_from(*d).unwrap_or_default());
    if let Some((kept, age)) = max_age.and_then(|max| ec2.lookups.recall(&key, max))
        && let Ok(answer) = kept.downcast::<Answer<L::Item>>()
    {
        return Ok((answer.as_ref().clone(), Some(age)));
    }
    let call = request.send(&ec2.shared);
    let shared = ec2
        .lookups
        .run(key.clone(), async move {
            call.await
                .map(|answer| Arc::new(answer) as crate::ec2::lookup_calls::Shared)
        })
        .await?;
    let answer = shared
        .clone()
        .downcast::<Answer<L::Item>>()
        .map_err(|_| Error::Internal(format!("{}: a shared answer of another type", L::ACTION)))?;
    if L::CACHE && answer.items.len() <= KEPT_ITEMS {
        ec2.lookups.keep(key, shared);
    }
    Ok((answer.as_ref().clone(), None))
}

/// The scope's checks made before the call, and its tag filter on a describe by filters.
async fn admit<L: Lookup>(ec2: &Ec2, request: &mut L, scope: &TagScope) -> Result<(), Error> {
    match (L::SCOPE, request.parent()) {
        (Scoping::Tags, _) if !request.by_ids() => request.filters_mut().push(scope.filter()),
        (Scoping::Instances, Parent::Instances(ids)) => {
            if ids.is_empty() {
                return Err(scope.refuse_unnamed("instance_ids"));
            }
            let page = DescribePage {
                ids: ids.to_vec(),
                ..DescribePage::default()
            };
            let output = ec2.describe_instances(page).await?;
            let instances: Vec<pb::Instance> = output
                .reservations
                .into_iter()
                .flatten()
                .flat_map(|r| r.instances.unwrap_or_default())
                .map(crate::convert::instance::instance)
                .collect();
            scope.check(
                instances
                    .iter()
                    .map(|i| (i.instance_id.as_str(), i.tags.as_slice())),
            )?;
        }
        (Scoping::Template, Parent::Template { id, name }) => {
            if id.is_empty() && name.is_empty() {
                return Err(scope.refuse_unnamed("launch_template_id or launch_template_name"));
            }
            let template = pb::DescribeLaunchTemplatesRequest {
                launch_template_ids: named(id),
                launch_template_names: named(name),
                ..Default::default()
            };
            let (answer, _) = fetch(ec2, &template).await?;
            if answer.items.len() != 1 {
                return Err(scope.refuse_unnamed("launch_template_id or launch_template_name"));
            }
            within::<pb::DescribeLaunchTemplatesRequest>(scope, true, answer.items)?;
        }
        _ => {}
    }
    Ok(())
}

/// The items the scope lets the caller see. Named by id: all of them, or PERMISSION_DENIED
/// naming those outside it; found by filters: those inside it. Public items are inside every
/// scope; lookups checked before the call (instances, templates) or without scope pass.
fn within<L: Lookup>(
    scope: &TagScope,
    by_ids: bool,
    items: Vec<L::Item>,
) -> Result<Vec<L::Item>, Error> {
    match L::SCOPE {
        Scoping::Tags | Scoping::PublicOrTags if by_ids => {
            let private = items.iter().map(L::scoped).filter(|s| !s.public);
            scope.check(private.map(|s| (s.id, s.tags)))?;
            Ok(items)
        }
        Scoping::Tags | Scoping::PublicOrTags => Ok(items
            .into_iter()
            .filter(|item| {
                let scoped = L::scoped(item);
                scoped.public || scope.covers(scoped.tags)
            })
            .collect()),
        Scoping::Instances | Scoping::Template | Scoping::None => Ok(items),
    }
}

/// A request's one id or name as the list a describe takes (empty: none).
fn named(value: &str) -> Vec<String> {
    if value.is_empty() {
        Vec::new()
    } else {
        vec![value.to_owned()]
    }
}

/// A streamed lookup's pages, as `stream` drives them.
struct Pages<S: StreamedLookup> {
    /// The target's EC2.
    ec2: Ec2,
    /// The describe of the whole selection (the scope's filter in it).
    lookup: S::Lookup,
    /// The caller's tag scope.
    scope: Option<TagScope>,
}

impl<S: StreamedLookup> Describe for Pages<S> {
    type Item = <S::Lookup as Lookup>::Item;
    type Message = S::Message;

    async fn fetch(
        &self,
        token: Option<String>,
        page_size: Option<i32>,
    ) -> Result<Page<Self::Item>, Error> {
        let request = S::paged(&self.lookup, page_size, token);
        if request.dry_run() {
            request.send(&self.ec2.client).await?;
            return Ok(Page {
                items: Vec::new(),
                next_token: None,
            });
        }
        let (answer, _) = fetch(&self.ec2, &request).await?;
        let items = match &self.scope {
            Some(scope) => within::<S::Lookup>(scope, request.by_ids(), answer.items)?,
            None => answer.items,
        };
        Ok(Page {
            items,
            next_token: answer.next_token,
        })
    }

    fn message(&self, items: Vec<Self::Item>, next_token: String) -> Self::Message {
        S::message(items, next_token)
    }

    fn dry_run_succeeded(&self) -> Self::Message {
        S::dry_run_succeeded()
    }
}
