//! `DeleteNetworkInterfaces`: a cleanup of leaked network interfaces, like the instance
//! collection's actions. The selection is resolved in full first (deleting changes what
//! filters match, so deleting while paging could skip interfaces); then each interface is
//! deleted by its own EC2 call (EC2 has no batch delete), each within the EC2 budget, one
//! message per interface and a closing summary. A refusal never stops the others.

use super::actions::{PREVIEW_SAMPLE, batch_failure};
use super::network_interfaces::NetworkInterfaces;
use super::selection::{Selection, resolve as resolve_selection};
use super::stream::{MessageStream, single};
use crate::auth::scope::TagScope;
use crate::call::{self, Call};
use crate::ec2::Ec2;
use crate::error::Error;
use crate::pb::delete_network_interfaces_response::Event;
use crate::{pb, validate};
use futures_util::stream;
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
    if let Some(notes) = Call::notes() {
        let ids: Vec<String> = selected
            .iter()
            .map(|s| s.network_interface_id.clone())
            .collect();
        notes.resources(&ids);
    }
    if request.preview {
        let preview = pb::NetworkInterfaceSelectionPreview {
            matched: selected.len() as i64,
            sample: selected.into_iter().take(PREVIEW_SAMPLE).collect(),
        };
        let message = response(Event::Preview(preview));
        return Ok(single(message));
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
    let named = Selection {
        ids: &selection.network_interface_ids,
        page_size: selection.page_size,
        limit: selection.limit,
    };
    let describe = |ids| NetworkInterfaces::new(ec2, ids, &selection.filters, scope.clone());
    resolve_selection(named, describe, |found: pb::NetworkInterface| {
        let selected = pb::SelectedNetworkInterface {
            network_interface_id: found.network_interface_id.clone(),
            status: found.status,
        };
        vec![(found.network_interface_id, selected)]
    })
    .await
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
        if let Some(notes) = self.call.as_ref().and_then(Call::notes_here) {
            let number = self.summary.matched - self.left.len() as i64;
            let ids = std::slice::from_ref(&deletion.network_interface_id);
            notes.step(number, ids, self.dry_run, deletion.failure.as_ref());
        }
        Some(Event::Deletion(deletion))
    }
}
