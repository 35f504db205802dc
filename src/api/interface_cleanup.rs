//! `DeleteNetworkInterfaces`: a cleanup of leaked network interfaces, like the instance
//! collection's actions. The selection is resolved in full first (deleting changes what
//! filters match, so deleting while paging could skip interfaces); then each interface is
//! deleted by its own EC2 call (EC2 has no batch delete), each within the EC2 budget, one
//! message per interface and a closing summary. A refusal never stops the others.

use super::actions::{DEFAULT_PAGE_SIZE, PREVIEW_SAMPLE, batch_failure};
use super::network_interfaces::NetworkInterfaces;
use super::stream::{Describe, MessageStream};
use crate::auth::scope::TagScope;
use crate::call::{self, Call};
use crate::ec2::Ec2;
use crate::error::Error;
use crate::pb::delete_network_interfaces_response::Event;
use crate::{pb, validate};
use futures_util::stream;
use std::collections::HashSet;
use tonic::Status;

/// Validates `request`, resolves its selection within `scope`, then answers the preview or a
/// stream that deletes interface by interface. Errors resolving the selection fail the RPC
/// before anything is deleted.
pub async fn delete_network_interfaces(
    ec2: &Ec2,
    request: pb::DeleteNetworkInterfacesRequest,
    scope: Option<TagScope>,
) -> Result<MessageStream<pb::DeleteNetworkInterfacesResponse>, Error> {
    validate::delete_network_interfaces(&request)?;
    let selection = request.selection.unwrap_or_default();
    let selected = resolve(ec2, &selection, scope).await?;
    if request.preview {
        let preview = pb::NetworkInterfaceSelectionPreview {
            matched: selected.len() as i64,
            sample: selected.into_iter().take(PREVIEW_SAMPLE).collect(),
        };
        let message = response(Event::Preview(preview));
        return Ok(Box::pin(stream::once(async { Ok(message) })));
    }
    let cleanup = Cleanup {
        client: ec2.client.clone(),
        call: Call::current(),
        dry_run: request.dry_run,
        summary: pb::NetworkInterfaceDeletionSummary {
            matched: selected.len() as i64,
            ..Default::default()
        },
        left: selected.into_iter(),
        finished: false,
    };
    Ok(Box::pin(stream::unfold(
        cleanup,
        |mut cleanup| async move {
            let event = cleanup.next().await?;
            Some((Ok::<_, Status>(response(event)), cleanup))
        },
    )))
}

fn response(event: Event) -> pb::DeleteNetworkInterfacesResponse {
    pb::DeleteNetworkInterfacesResponse { event: Some(event) }
}

/// The selection's interfaces, each once, in EC2's order, at most `limit`; all within `scope`.
async fn resolve(
    ec2: &Ec2,
    selection: &pb::NetworkInterfaceSelection,
    scope: Option<TagScope>,
) -> Result<Vec<pb::SelectedNetworkInterface>, Error> {
    let limit = selection
        .limit
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let id_chunks: Vec<Option<Vec<String>>> = if selection.network_interface_ids.is_empty() {
        vec![None]
    } else {
        selection
            .network_interface_ids
            .chunks(validate::MAX_IDS)
            .map(|c| Some(c.to_vec()))
            .collect()
    };
    let mut seen = HashSet::new();
    let mut selected = Vec::new();
    for ids in id_chunks {
        let page_size = ids
            .is_none()
            .then(|| selection.page_size.unwrap_or(DEFAULT_PAGE_SIZE));
        let describe = NetworkInterfaces::new(
            ec2,
            ids.unwrap_or_default(),
            &selection.filters,
            scope.clone(),
        );
        let mut token = None;
        loop {
            let page = describe.fetch(token, page_size).await?;
            for found in page.items {
                if seen.insert(found.network_interface_id.clone()) {
                    selected.push(pb::SelectedNetworkInterface {
                        network_interface_id: found.network_interface_id,
                        status: found.status,
                    });
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

/// The deleting phase of one cleanup stream.
struct Cleanup {
    /// The EC2 client (every attempt passes the budget).
    client: aws_sdk_ec2::Client,
    /// The RPC this cleanup serves (the stream outlives the handler's scope).
    call: Option<Call>,
    /// Each call is a dry run.
    dry_run: bool,
    /// Counts so far; sent last.
    summary: pb::NetworkInterfaceDeletionSummary,
    /// The interfaces still to delete.
    left: std::vec::IntoIter<pb::SelectedNetworkInterface>,
    /// The summary was sent.
    finished: bool,
}

impl Cleanup {
    /// Deletes the next interface, or answers the summary once all are done.
    async fn next(&mut self) -> Option<Event> {
        let Some(next) = self.left.next() else {
            if self.finished {
                return None;
            }
            self.finished = true;
            return Some(Event::Summary(self.summary));
        };
        let id = next.network_interface_id;
        let deleting = self
            .client
            .delete_network_interface()
            .dry_run(self.dry_run)
            .network_interface_id(&id)
            .send();
        let mut deletion = pb::NetworkInterfaceDeletion {
            network_interface_id: id,
            ..Default::default()
        };
        match call::within(self.call.clone(), deleting)
            .await
            .map_err(Error::from)
        {
            Ok(_) => {
                deletion.deleted = true;
                self.summary.deleted += 1;
            }
            Err(e) if e.is_dry_run_success() => deletion.dry_run_succeeded = true,
            Err(e) => {
                tracing::warn!(interface = %deletion.network_interface_id, "delete failed: {e}");
                deletion.failure = Some(batch_failure(e));
                self.summary.failed += 1;
            }
        }
        Some(Event::Deletion(deletion))
    }
}
