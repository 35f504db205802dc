//! Resolving a selection (ids and/or filters, `limit`, `page_size`) into what an action will
//! act on, before it acts: the instance collection's actions and the interface cleanup share
//! it.

use super::stream::{DEFAULT_PAGE_SIZE, Describe};
use crate::error::Error;
use crate::validate;
use std::collections::HashSet;

/// What a selection names.
pub struct Selection<'a> {
    /// Explicit ids (any number: described 1000 at a time, EC2's limit).
    pub ids: &'a [String],
    /// EC2's `MaxResults` while paging a selection by filters (EC2 takes none with ids).
    pub page_size: Option<i32>,
    /// At most this many items (at least 1 when set).
    pub limit: Option<i32>,
}

/// The selection's items, each once (by the key `select` gives), in EC2's order, at most
/// `limit`. `describe` makes the describe of a chunk of ids (none: by filters only);
/// `select` turns each described item into keyed selections.
pub async fn resolve<D: Describe, T>(
    selection: Selection<'_>,
    describe: impl Fn(Vec<String>) -> D,
    select: impl Fn(D::Item) -> Vec<(String, T)>,
) -> Result<Vec<T>, Error> {
    let limit = selection
        .limit
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let chunks: Vec<Option<Vec<String>>> = if selection.ids.is_empty() {
        vec![None]
    } else {
        selection
            .ids
            .chunks(validate::MAX_IDS)
            .map(|c| Some(c.to_vec()))
            .collect()
    };
    let mut seen = HashSet::new();
    let mut selected = Vec::new();
    for ids in chunks {
        let page_size = ids
            .is_none()
            .then(|| selection.page_size.unwrap_or(DEFAULT_PAGE_SIZE));
        let describe = describe(ids.unwrap_or_default());
        let mut token = None;
        loop {
            let page = describe.fetch(token, page_size).await?;
            for (key, item) in page.items.into_iter().flat_map(&select) {
                if seen.insert(key) {
                    selected.push(item);
                    if selected.len() >= limit {
                        return Ok(selected);
                    }
                }
            }
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
    }
    Ok(selected)
}
