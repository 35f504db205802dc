//! The instance collection (boto3's `ec2.instances`): resolve a selection, then start, stop,
//! reboot, terminate, monitor, unmonitor or tag it in batches, streaming each batch's outcome.
//!
//! The whole selection is resolved before the first action, by describing page by page and
//! keeping only instance ids: acting changes what filters match (a stop moves instances out of
//! `instance-state-name=running`), so acting while paging could skip or repeat instances. Each
//! id is kept once, in EC2's order, up to `limit`.
//!
//! A scoped caller's selection by filters only matches its scope; a selection naming an id
//! outside it is refused before anything is acted on (see `auth::scope`).

use super::instances::Instances;
use super::selection::{Selection, resolve as resolve_selection};
use super::stream::{MessageStream, single};
use crate::auth::scope::TagScope;
use crate::call::{self, Call};
use crate::convert::{instance, list};
use crate::ec2::Ec2;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::pb;
use aws_sdk_ec2::types::Tag;
use futures_util::stream;
use std::collections::HashSet;
use tonic::Status;
use tonic_types::StatusExt;

/// EC2's most ids in one action call, and the default batch size.
pub const MAX_BATCH_SIZE: usize = 1000;

/// How many selected instances a preview lists.
pub(super) const PREVIEW_SAMPLE: usize = 20;

/// An EC2 action on a batch of ids, with its own parameters.
#[derive(Debug, Clone)]
pub enum Action {
    /// EC2 `StartInstances`.
    Start {
        /// EC2 `AdditionalInfo`.
        additional_info: Option<String>,
    },
    /// EC2 `StopInstances`.
    Stop {
        /// EC2 `Hibernate`.
        hibernate: Option<bool>,
        /// EC2 `Force`.
        force: Option<bool>,
        /// EC2 `SkipOsShutdown`.
        skip_os_shutdown: Option<bool>,
    },
    /// EC2 `RebootInstances`.
    Reboot,
    /// EC2 `TerminateInstances`.
    Terminate {
        /// EC2 `Force`.
        force: Option<bool>,
        /// EC2 `SkipOsShutdown`.
        skip_os_shutdown: Option<bool>,
    },
    /// EC2 `MonitorInstances`.
    Monitor,
    /// EC2 `UnmonitorInstances`.
    Unmonitor,
    /// EC2 `CreateTags`.
    CreateTags {
        /// The tags to set.
        tags: Vec<Tag>,
    },
}

/// What one successful EC2 action call answered.
#[derive(Default)]
struct Answer {
    /// Start, stop, terminate.
    state_changes: Vec<pb::InstanceStateChange>,
    /// Monitor, unmonitor.
    instance_monitorings: Vec<pb::InstanceMonitoring>,
}

impl Action {
    /// Calls EC2 for one batch of ids.
    async fn call(
        &self,
        ec2: &aws_sdk_ec2::Client,
        ids: Vec<String>,
        dry_run: bool,
    ) -> Result<Answer, Error> {
        let ids = Some(ids);
        let changes = |v| Answer {
            state_changes: list(v, instance::instance_state_change),
            ..Answer::default()
        };
        let monitorings = |v| Answer {
            instance_monitorings: list(v, instance::instance_monitoring),
            ..Answer::default()
        };
        Ok(match self {
            Action::Start { additional_info } => {
                let out = ec2
                    .start_instances()
                    .set_instance_ids(ids)
                    .set_additional_info(additional_info.clone())
                    .dry_run(dry_run)
                    .send()
                    .await?;
                changes(out.starting_instances)
            }
            Action::Stop {
                hibernate,
                force,
                skip_os_shutdown,
            } => {
                let out = ec2
                    .stop_instances()
                    .set_instance_ids(ids)
                    .set_hibernate(*hibernate)
                    .set_force(*force)
                    .set_skip_os_shutdown(*skip_os_shutdown)
                    .dry_run(dry_run)
                    .send()
                    .await?;
                changes(out.stopping_instances)
            }
            Action::Reboot => {
                let call = ec2.reboot_instances().set_instance_ids(ids);
                call.dry_run(dry_run).send().await?;
                Answer::default()
            }
            Action::Terminate {
                force,
                skip_os_shutdown,
            } => {
                let out = ec2
                    .terminate_instances()
                    .set_instance_ids(ids)
                    .set_force(*force)
                    .set_skip_os_shutdown(*skip_os_shutdown)
                    .dry_run(dry_run)
                    .send()
                    .await?;
                changes(out.terminating_instances)
            }
            Action::Monitor => {
                let call = ec2.monitor_instances().set_instance_ids(ids);
                monitorings(call.dry_run(dry_run).send().await?.instance_monitorings)
            }
            Action::Unmonitor => {
                let call = ec2.unmonitor_instances().set_instance_ids(ids);
                monitorings(call.dry_run(dry_run).send().await?.instance_monitorings)
            }
            Action::CreateTags { tags } => {
                let call = ec2
                    .create_tags()
                    .set_resources(ids)
                    .set_tags(Some(tags.clone()));
                call.dry_run(dry_run).send().await?;
                Answer::default()
            }
        })
    }
}

/// One message of an action stream, before it becomes the RPC's own response type.
pub enum ActionEvent {
    /// The preview.
    Preview(pb::SelectionPreview),
    /// One batch's outcome.
    Batch(pb::InstanceBatch),
    /// The closing summary.
    Summary(pb::InstanceActionSummary),
}

/// Implements `From<ActionEvent>` for each action RPC's response (each has its own `event`
/// oneof type, generated per message).
macro_rules! action_responses {
    ($($response:ident => $module:ident),+ $(,)?) => {$(
        impl From<ActionEvent> for pb::$response {
            fn from(event: ActionEvent) -> Self {
                use pb::$module::Event;
                pb::$response {
                    event: Some(match event {
                        ActionEvent::Preview(p) => Event::Preview(p),
                        ActionEvent::Batch(b) => Event::Batch(b),
                        ActionEvent::Summary(s) => Event::Summary(s),
                    }),
                }
            }
        }
    )+};
}

action_responses!(
    StartInstancesResponse => start_instances_response,
    StopInstancesResponse => stop_instances_response,
    RebootInstancesResponse => reboot_instances_response,
    TerminateInstancesResponse => terminate_instances_response,
    MonitorInstancesResponse => monitor_instances_response,
    UnmonitorInstancesResponse => unmonitor_instances_response,
    CreateTagsResponse => create_tags_response,
);

/// An action request, whatever the RPC.
pub struct ActionRequest {
    /// The instances to act on (`None`: only `resource_ids`).
    pub selection: Option<pb::InstanceSelection>,
    /// Further ids to act on as given (CreateTags on any resource).
    pub resource_ids: Vec<String>,
    /// The EC2 action.
    pub action: Action,
    /// Each batch is a dry run.
    pub dry_run: bool,
    /// Answer the resolved selection only.
    pub preview: bool,
    /// The caller's tag scope, if it has one.
    pub scope: Option<TagScope>,
}

/// Resolves the (validated) selection, then answers the preview, or a stream that acts batch
/// by batch. Errors resolving the selection (an unknown id, say) fail the RPC before anything
/// is acted on.
pub async fn run<R: From<ActionEvent> + Send + 'static>(
    ec2: &Ec2,
    inventory: Option<&Inventory>,
    batch_size: usize,
    request: ActionRequest,
) -> Result<MessageStream<R>, Error> {
    let selected = match &request.selection {
        Some(selection) => resolve(ec2, selection, request.scope.clone()).await?,
        None => Vec::new(),
    };
    let mut targets: Vec<String> = selected.iter().map(|s| s.instance_id.clone()).collect();
    let mut seen: HashSet<String> = targets.iter().cloned().collect();
    targets.extend(
        request
            .resource_ids
            .iter()
            .filter(|id| seen.insert(id.to_string()))
            .cloned(),
    );

    // The audit names every instance the selection resolved to, acted on or previewed.
    if let Some(notes) = Call::notes() {
        notes.resources(&targets);
    }
    if request.preview {
        let preview = pb::SelectionPreview {
            matched: targets.len() as i64,
            sample: selected.into_iter().take(PREVIEW_SAMPLE).collect(),
        };
        let event = R::from(ActionEvent::Preview(preview));
        return Ok(single(event));
    }

    let run = Run {
        ec2: ec2.client.clone(),
        inventory: inventory.cloned(),
        call: Call::current(),
        action: request.action,
        dry_run: request.dry_run,
        batches: targets
            .chunks(batch_size.clamp(1, MAX_BATCH_SIZE))
            .map(<[String]>::to_vec)
            .collect::<Vec<_>>()
            .into_iter(),
        summary: pb::InstanceActionSummary {
            matched: targets.len() as i64,
            ..Default::default()
        },
        finished: false,
    };
    Ok(Box::pin(stream::unfold(run, |mut run| async move {
        let event = run.next().await?;
        Some((Ok::<R, Status>(R::from(event)), run))
    })))
}

/// The selection's instances, each once, in EC2's order, at most `limit`; all within `scope`.
async fn resolve(
    ec2: &Ec2,
    selection: &pb::InstanceSelection,
    scope: Option<TagScope>,
) -> Result<Vec<pb::SelectedInstance>, Error> {
    let named = Selection {
        ids: &selection.instance_ids,
        page_size: selection.page_size,
        limit: selection.limit,
    };
    let describe = |ids| Instances::new(ec2, ids, &selection.filters, scope.clone());
    resolve_selection(named, describe, |reservation: pb::Reservation| {
        reservation
            .instances
            .into_iter()
            .map(|found| {
                let selected = pb::SelectedInstance {
                    instance_id: found.instance_id.clone(),
                    state: found.state,
                };
                (found.instance_id, selected)
            })
            .collect()
    })
    .await
}

/// The acting phase of one action stream.
struct Run {
    /// The EC2 client.
    ec2: aws_sdk_ec2::Client,
    /// The instance view, told of each batch acted on.
    inventory: Option<Inventory>,
    /// The RPC this run serves (the stream outlives the handler's scope).
    call: Option<Call>,
    /// What to do.
    action: Action,
    /// Each call is a dry run.
    dry_run: bool,
    /// The batches still to act on.
    batches: std::vec::IntoIter<Vec<String>>,
    /// Counts so far; sent last.
    summary: pb::InstanceActionSummary,
    /// The summary was sent.
    finished: bool,
}

impl Run {
    /// Acts on the next batch, or answers the summary once the batches are done.
    async fn next(&mut self) -> Option<ActionEvent> {
        let Some(ids) = self.batches.next() else {
            if self.finished {
                return None;
            }
            self.finished = true;
            return Some(ActionEvent::Summary(self.summary));
        };
        self.summary.batches += 1;
        let count = ids.len() as i64;
        let mut batch = pb::InstanceBatch {
            batch: self.summary.batches,
            instance_ids: ids.clone(),
            ..Default::default()
        };
        let acting = self.action.call(&self.ec2, ids.clone(), self.dry_run);
        match call::within(self.call.clone(), acting).await {
            Ok(answer) => {
                if let Some(inventory) = &self.inventory {
                    inventory.acted_on(&ids);
                }
                batch.state_changes = answer.state_changes;
                batch.instance_monitorings = answer.instance_monitorings;
                self.summary.acted += count;
            }
            Err(e) if e.is_dry_run_success() => batch.dry_run_succeeded = true,
            Err(e) => {
                tracing::warn!(batch = batch.batch, "batch failed: {e}");
                batch.failure = Some(batch_failure(e));
                self.summary.failed += count;
            }
        }
        if let Some(notes) = self.call.as_ref().and_then(Call::notes_here) {
            notes.step(
                i64::from(batch.batch),
                &ids,
                self.dry_run,
                batch.failure.as_ref(),
            );
        }
        Some(ActionEvent::Batch(batch))
    }
}

/// A batch's error as the status its call would have had, flattened for the stream.
pub(super) fn batch_failure(error: Error) -> pb::BatchFailure {
    let status = Status::from(error);
    let info = status.get_details_error_info();
    let meta = |key: &str| {
        info.as_ref()
            .and_then(|i| i.metadata.get(key).cloned())
            .unwrap_or_default()
    };
    pb::BatchFailure {
        code: status.code() as i32,
        message: status.message().to_owned(),
        reason: info.as_ref().map(|i| i.reason.clone()).unwrap_or_default(),
        aws_code: meta("aws_code"),
        request_id: meta("request_id"),
    }
}
