//! DescribeInstances and its stream answered from the replica's instance view, when the
//! caller accepts an answer `max_staleness` old: no EC2 call, in microseconds.
//!
//! The view answers only what EC2 would: the same ids, filters (those the view evaluates,
//! else EC2 answers) and tag scope (a scoped caller naming an instance outside its scope is
//! refused, as by EC2's path). Pages go in instance-id order; a page token of the view's
//! (`view:` + the last id, bound to the request like EC2 paths' tokens) continues from the
//! view, and only from it.

use super::group_reservations;
use super::stream::{Describe, Fingerprint, Page, fingerprint};
use crate::auth::scope::TagScope;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::inventory::filter::Selector;
use crate::inventory::view::Entry;
use crate::pb;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prost::bytes::Bytes;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The first characters of a page token of the view's.
pub const VIEW_TOKEN_PREFIX: &str = "view:";
/// Page size from the view when the request sets none.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// What a describe asks that decides whether the view may answer it.
pub struct ViewQuestion<'a> {
    /// `max_staleness`, if set.
    pub max_staleness: Option<&'a prost_types::Duration>,
    /// The filters.
    pub filters: &'a [pb::Filter],
    /// `include_managed_resources`, if set (the view has no managed-resource flag).
    pub include_managed_resources: Option<bool>,
    /// A dry run asks EC2.
    pub dry_run: bool,
    /// The request continues a listing the view started.
    pub resumes_view: bool,
}

/// The view and its age when it answers this describe; `None` when EC2 does. A listing the
/// view started continues from the view or fails: UNAVAILABLE (VIEW_STALE) when the view is
/// older than the caller accepts by now.
pub fn answerer(
    inventory: Option<&Inventory>,
    question: &ViewQuestion<'_>,
) -> Result<Option<(Inventory, Duration)>, Error> {
    let max = question
        .max_staleness
        .map(|d| Duration::new(d.seconds.unsigned_abs(), d.nanos.unsigned_abs()));
    let age = inventory.and_then(Inventory::staleness);
    if question.resumes_view {
        let (Some(inventory), Some(max)) = (inventory, max) else {
            return Err(Error::InventoryOff);
        };
        let age = age.unwrap_or(Duration::MAX);
        if age > max {
            return Err(Error::ViewStale { age, max });
        }
        return Ok(Some((inventory.clone(), age)));
    }
    let eligible = !question.dry_run
        && question.include_managed_resources.is_none()
        && Selector::supports(question.filters);
    match (inventory, max, age) {
        (Some(inventory), Some(max), Some(age)) if eligible && age <= max => {
            Ok(Some((inventory.clone(), age)))
        }
        _ => Ok(None),
    }
}

/// The instances of a describe, from the view.
pub struct ViewInstances {
    inventory: Inventory,
    selector: Selector,
    /// The caller's scope, checked on instances named by id.
    scope: Option<TagScope>,
    /// The ids named (a scoped caller's named instances are checked, not hidden).
    by_ids: bool,
    /// How old the view was when the describe started.
    age: Duration,
}

impl ViewInstances {
    /// The describe of `ids` and `filters` within `scope`, from `inventory` (`age` old).
    pub fn new(
        inventory: Inventory,
        ids: &[String],
        filters: &[pb::Filter],
        scope: Option<TagScope>,
        age: Duration,
    ) -> Result<ViewInstances, Error> {
        let hiding_scope = scope.as_ref().filter(|_| ids.is_empty());
        Ok(ViewInstances {
            selector: Selector::new(ids, filters, hiding_scope)?,
            inventory,
            scope,
            by_ids: !ids.is_empty(),
            age,
        })
    }

    /// How old the view was when the describe started.
    pub fn staleness(&self) -> prost_types::Duration {
        prost_types::Duration::try_from(self.age).unwrap_or_default()
    }

    /// Up to `size` selected instances after instance `after`, and the id to continue after
    /// when more follow. Instances named by id must be in the caller's scope.
    fn page(
        &self,
        after: Option<&str>,
        size: usize,
    ) -> Result<(Vec<Arc<Entry>>, Option<String>), Error> {
        let (entries, more) = self.inventory.read(|view| {
            let mut selected = self.selector.select(view, after);
            let entries: Vec<Arc<Entry>> = selected.by_ref().take(size).cloned().collect();
            (entries, selected.next().is_some())
        });
        if let (true, Some(scope)) = (self.by_ids, &self.scope) {
            scope.check(entries.iter().map(|e| (e.id(), e.facts().tags.as_slice())))?;
        }
        let last = entries.last().map(|e| e.id().to_owned());
        Ok((entries, last.filter(|_| more)))
    }

    /// One unary DescribeInstances page: `max_results` (1000 when unset) after the position
    /// `next_token` names (a token of the view's for `request`, or empty).
    pub fn describe(
        &self,
        max_results: Option<i32>,
        next_token: &str,
        request: Fingerprint,
    ) -> Result<pb::DescribeInstancesResponse, Error> {
        let after = parse_unary_token(next_token, request)?;
        let size = max_results
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let (entries, last) = self.page(after.as_deref(), size)?;
        // Each entry is its instance's reservation, encoded. Sent as they are when no two
        // share a reservation (a describe of a few ids, the polling fleet's): no decode, no
        // re-encode. Otherwise decoded and grouped, as EC2 groups instances launched together.
        let mut reservation_ids = HashSet::with_capacity(entries.len());
        let distinct = entries
            .iter()
            .all(|e| reservation_ids.insert(e.facts().reservation_id.as_str()));
        let (reservations, encoded_reservations) = if distinct {
            let encoded = entries.iter().map(|e| e.encoded_reservation().clone());
            (Vec::new(), encoded.collect())
        } else {
            let decoded = entries.iter().map(|e| e.reservation()).collect();
            (group_reservations(decoded), Vec::new())
        };
        Ok(pb::DescribeInstancesResponse {
            reservations,
            encoded_reservations,
            next_token: last.map_or_else(String::new, |id| unary_token(request, &id)),
            dry_run_succeeded: false,
            staleness: Some(self.staleness()),
        })
    }
}

/// The fingerprint a unary describe's view tokens are bound to: what selects the
/// instances, not how they are paged.
pub fn unary_fingerprint(
    request: &pb::DescribeInstancesRequest,
    scope: Option<&TagScope>,
) -> Fingerprint {
    let selection = pb::DescribeInstancesRequest {
        next_token: String::new(),
        max_results: None,
        ..request.clone()
    };
    fingerprint(&selection, scope.map(TagScope::tag).as_deref())
}

/// A unary page token of the view's: the prefix, then the request's fingerprint and the
/// last id delivered.
fn unary_token(request: Fingerprint, last_id: &str) -> String {
    let mut bytes = request.to_le_bytes().to_vec();
    bytes.extend(last_id.as_bytes());
    format!("{VIEW_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The id a unary view token continues after (`None`: from the start).
fn parse_unary_token(token: &str, request: Fingerprint) -> Result<Option<String>, Error> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = |why: &str| Error::invalid_field("next_token", why.to_owned());
    let bytes = token
        .strip_prefix(VIEW_TOKEN_PREFIX)
        .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok())
        .filter(|b| b.len() > 8)
        .ok_or_else(|| invalid("not a page token of the instance view"))?;
    let (issued_for, last_id) = bytes.split_at(8);
    if issued_for != request.to_le_bytes() {
        return Err(invalid(
            "the token continues another request (other ids, filters, max_staleness or scope)",
        ));
    }
    String::from_utf8(last_id.to_vec())
        .map(Some)
        .map_err(|_| invalid("not a page token of the instance view"))
}

/// The stream sends the view's encoded single-instance reservations as they are: no decode,
/// no re-encode (`Bytes` is a `Message` as `google.protobuf.BytesValue`, whose encoded length
/// is the bytes' plus a key: close enough for splitting messages by size).
impl Describe for ViewInstances {
    type Item = Bytes;
    type Message = pb::DescribeInstancesStreamResponse;

    async fn fetch(
        &self,
        token: Option<String>,
        page_size: Option<i32>,
    ) -> Result<Page<Bytes>, Error> {
        let after = token
            .as_deref()
            .and_then(|t| t.strip_prefix(VIEW_TOKEN_PREFIX));
        let size = page_size
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let (entries, last) = self.page(after, size)?;
        Ok(Page {
            items: entries
                .iter()
                .map(|e| e.encoded_reservation().clone())
                .collect(),
            next_token: last.map(|id| format!("{VIEW_TOKEN_PREFIX}{id}")),
        })
    }

    fn message(&self, items: Vec<Bytes>, next_token: String) -> Self::Message {
        pb::DescribeInstancesStreamResponse {
            encoded_reservations: items,
            next_token,
            staleness: Some(self.staleness()),
            ..Default::default()
        }
    }

    fn dry_run_succeeded(&self) -> Self::Message {
        pb::DescribeInstancesStreamResponse {
            dry_run_succeeded: true,
            ..Default::default()
        }
    }
}
