//! The `ec2.v1.Ec2Service` implementation: one file per RPC group, each RPC validating its
//! request, calling EC2 and converting the answer. Streamed describes share `stream`;
//! `watch`, `wait` and `view_reads` answer from the instance inventory instead of EC2.

pub mod actions;
mod instances;
mod interface_cleanup;
mod interface_lifecycle;
mod lookups;
mod network_interfaces;
mod selection;
pub mod stream;
mod view_reads;
mod wait;
mod watch;

use crate::auth::Principal;
use crate::auth::scope::TagScope;
use crate::auth::targets::TargetGrant;
use crate::convert::{common, non_empty, request};
use crate::ec2::{DescribePage, Ec2};
use crate::error::Error;
use crate::inventory::Inventory;
use crate::pb;
use crate::pb::ec2_service_server::Ec2Service;
use crate::protection::stats::{Snapshot, Stats};
use crate::targets::{Reached, Target, Targets};
use crate::validate;
use actions::{Action, ActionRequest};
use std::collections::HashMap;
use std::sync::Arc;
use stream::MessageStream;
use tonic::{Request, Response, Status};

/// The gateway's service state: the targets every RPC reaches (each with its EC2 seam and
/// instance view), and its settings.
#[derive(Clone, Debug)]
pub struct Gateway {
    /// The accounts and regions served, each built on first use.
    targets: Targets,
    /// Most ids per EC2 call of the instance actions (1 to 1000).
    batch_size: usize,
}

impl Gateway {
    /// A gateway over a plain SDK client: coalescing with the default merge window, acting
    /// on at most 1000 ids per call. (The binary builds its client with the EC2 budget in it:
    /// see `server::run`.) Must be called inside a tokio runtime.
    pub fn new(client: aws_sdk_ec2::Client) -> Self {
        let window = Some(crate::ec2::batch::DEFAULT_WINDOW);
        Self::with_ec2(Ec2::new(client, window, Arc::new(Stats::default())))
    }

    /// A gateway serving its home target only, over `ec2`.
    pub fn with_ec2(ec2: Ec2) -> Self {
        Self::with_targets(Targets::single(ec2, None))
    }

    /// A gateway serving `targets`.
    pub fn with_targets(targets: Targets) -> Self {
        Self {
            targets,
            batch_size: actions::MAX_BATCH_SIZE,
        }
    }

    /// Serves the home target's watches, waits and `max_staleness` reads from `inventory`, and
    /// tells it of every launch and action there (a gateway serving its home target only).
    pub fn with_inventory(mut self, inventory: Inventory) -> Self {
        let ec2 = self.targets.home().ec2.clone();
        self.targets = Targets::single(ec2, Some(inventory));
        self
    }

    /// Ends the open watches and waits: the server is shutting down (their clients go to
    /// another replica rather than wait out the shutdown grace).
    pub fn shutting_down(&self) {
        self.targets.close();
    }

    /// The home target's protection counters (budget waits, throttles, retries, coalescing,
    /// refusals).
    pub fn stats(&self) -> Snapshot {
        self.targets.home().ec2.stats.snapshot()
    }

    /// The live counters, for the layers that count refusals.
    pub fn stats_handle(&self) -> Arc<Stats> {
        self.targets.home().ec2.stats.clone()
    }

    /// Acts on at most `batch_size` ids per EC2 call (clamped to 1..=1000).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.clamp(1, actions::MAX_BATCH_SIZE);
        self
    }

    /// The request's message, the caller's tag scope, and the target the message names,
    /// resolved and checked against the caller's grant: once, at the top of the call.
    async fn reach<T: Targeted + prost::Message>(
        &self,
        request: Request<T>,
    ) -> Result<(T, Option<TagScope>, Arc<Reached>), Status> {
        let grant = request.extensions().get::<TargetGrant>().cloned();
        let principal = request.extensions().get::<Principal>().cloned();
        let caller = principal.as_ref().map(|p| p.0.clone());
        let (message, scope) = scoped(request);
        let notes = crate::call::Call::notes();
        if let Some(notes) = &notes {
            notes.request(message.encode_to_vec());
        }
        let (account, region) = message.target();
        let permit = |target: &Target| match &grant {
            Some(grant)
                if !grant.allows(
                    &target.alias,
                    target.account_id.as_deref(),
                    target.home,
                    &target.region,
                ) =>
            {
                Err(Error::TargetNotGranted {
                    principal: principal.map(|p| p.0).unwrap_or_default(),
                    account: target.alias.clone(),
                    region: target.region.clone(),
                    granted: grant.describe(),
                })
            }
            _ => Ok(()),
        };
        let reached = self
            .targets
            .reach(account, region, caller.as_deref(), permit)
            .await?;
        if let Some(notes) = &notes {
            notes.target(
                reached.target.account_label(),
                &reached.target.region,
                reached.source_identity.as_deref(),
            );
        }
        let span = tracing::Span::current();
        span.record("cloud.account.id", reached.target.account_label());
        span.record("cloud.region", reached.target.region.as_str());
        Ok((message, scope, reached))
    }

    /// Runs an instance action RPC in `target`.
    async fn act<R: From<actions::ActionEvent> + Send + 'static>(
        &self,
        target: &Reached,
        request: ActionRequest,
    ) -> Result<Response<MessageStream<R>>, Status> {
        let inventory = target.inventory.as_ref();
        let stream = actions::run(&target.ec2, inventory, self.batch_size, request).await?;
        Ok(answered(stream, target))
    }
}

/// A request that names its target (`account`, `region`): every request of `Ec2Service`.
trait Targeted {
    /// The `account` and `region` fields, as sent.
    fn target(&self) -> (&str, &str);
}

/// Implements `Targeted` for request messages with `account` and `region` fields.
macro_rules! targeted {
    ($($message:ident),* $(,)?) => {
        $(impl Targeted for pb::$message {
            fn target(&self) -> (&str, &str) {
                (&self.account, &self.region)
            }
        })*
    };
}

targeted!(
    RunInstancesRequest,
    DescribeInstancesRequest,
    DescribeInstancesStreamRequest,
    CreateNetworkInterfaceRequest,
    DescribeNetworkInterfacesRequest,
    DescribeNetworkInterfacesStreamRequest,
    AttachNetworkInterfaceRequest,
    DetachNetworkInterfaceRequest,
    DeleteNetworkInterfaceRequest,
    DeleteNetworkInterfacesRequest,
    StartInstancesRequest,
    StopInstancesRequest,
    RebootInstancesRequest,
    TerminateInstancesRequest,
    MonitorInstancesRequest,
    UnmonitorInstancesRequest,
    CreateTagsRequest,
    WatchInstancesRequest,
    WaitInstancesRequest,
);

/// The request's message, and the caller's tag scope if it has one (the auth layer puts it in
/// the request's extensions).
fn scoped<T>(request: Request<T>) -> (T, Option<TagScope>) {
    let scope = request.extensions().get::<TagScope>().cloned();
    (request.into_inner(), scope)
}

/// The EC2 filters of a describe: the caller's, plus the scope's tag when the describe is by
/// filters only (so EC2 answers only the scope's resources). Described by ids, the resources
/// are checked instead (`TagScope::check`), so an id outside the scope is refused, not hidden.
fn scoped_filters(
    ids: &[String],
    filters: &[pb::Filter],
    scope: Option<&TagScope>,
) -> Vec<aws_sdk_ec2::types::Filter> {
    let added = scope.filter(|_| ids.is_empty()).map(TagScope::filter);
    filters.iter().chain(&added).map(common::filter).collect()
}

/// PERMISSION_DENIED naming every described instance outside `scope`.
fn check_scope(scope: Option<&TagScope>, reservations: &[pb::Reservation]) -> Result<(), Error> {
    let Some(scope) = scope else {
        return Ok(());
    };
    scope.check(
        reservations
            .iter()
            .flat_map(|r| &r.instances)
            .map(|i| (i.instance_id.as_str(), i.tags.as_slice())),
    )
}

/// Single-instance reservations regrouped: one reservation per id, with its instances, in
/// the order the reservations first appear.
fn group_reservations(items: Vec<pb::Reservation>) -> Vec<pb::Reservation> {
    let mut reservations: Vec<pb::Reservation> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for mut item in items {
        match index.get(&item.reservation_id) {
            Some(&at) => reservations[at].instances.append(&mut item.instances),
            None => {
                index.insert(item.reservation_id.clone(), reservations.len());
                reservations.push(item);
            }
        }
    }
    reservations
}

/// The response metadata naming the account an answer came from (its id, or its alias when
/// the home account's id is unknown), so a caller that named none learns which it reached.
pub const ACCOUNT_METADATA: &str = "ec2-account";
/// The response metadata naming the region an answer came from.
pub const REGION_METADATA: &str = "ec2-region";

/// `message` as the answer of a call to `target`: its metadata names the account and region
/// (EC2's own fields say so only in part: instances carry `owner_id` only per reservation).
fn answered<T>(message: T, target: &Reached) -> Response<T> {
    let mut response = Response::new(message);
    let metadata = response.metadata_mut();
    if let Ok(account) = target.target.account_label().parse() {
        metadata.insert(ACCOUNT_METADATA, account);
    }
    if let Ok(region) = target.target.region.parse() {
        metadata.insert(REGION_METADATA, region);
    }
    response
}

/// The instance view of `target`, when its inventory is on; else FAILED_PRECONDITION.
fn view(target: &Reached) -> Result<&Inventory, Error> {
    target.inventory.as_ref().ok_or(Error::InventoryOff)
}

/// A validated action request on a selection only.
fn on_selection(
    selection: Option<pb::InstanceSelection>,
    action: Action,
    dry_run: bool,
    preview: bool,
    scope: Option<TagScope>,
) -> Result<ActionRequest, Status> {
    validate::instance_action(selection.as_ref())?;
    Ok(ActionRequest {
        selection,
        resource_ids: Vec::new(),
        action,
        dry_run,
        preview,
        scope,
    })
}

/// EC2's `DryRunOperation` answer means "you may, and it would have worked": the RPC succeeds
/// with the response `dry_run` builds (which sets `dry_run_succeeded`).
fn unless_dry_run<T>(result: Result<T, Error>, dry_run: impl FnOnce() -> T) -> Result<T, Error> {
    match result {
        Err(e) if e.is_dry_run_success() => Ok(dry_run()),
        other => other,
    }
}

/// The permission check of an RPC served from the view: EC2's DescribeInstances with DryRun,
/// whose `DryRunOperation` answer means the gateway may describe.
async fn describe_dry_run(ec2: &Ec2) -> Result<(), Error> {
    let page = DescribePage {
        dry_run: true,
        ..DescribePage::default()
    };
    match ec2.describe_instances(page).await {
        Err(e) if !e.is_dry_run_success() => Err(e),
        _ => Ok(()),
    }
}

/// The idempotency token of a mutating call: the caller's, or a fresh one for this call. The
/// SDK sends the same token on each of its retries, so a retried call never acts twice.
fn client_token(given: &str) -> String {
    if given.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        given.to_owned()
    }
}

#[tonic::async_trait]
impl Ec2Service for Gateway {
    async fn run_instances(
        &self,
        request: Request<pb::RunInstancesRequest>,
    ) -> Result<Response<pb::RunInstancesResponse>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let inventory = at.inventory.as_ref();
        let response = instances::run_instances(&at.ec2, inventory, r, scope.as_ref()).await?;
        Ok(answered(response, &at))
    }

    async fn describe_instances(
        &self,
        request: Request<pb::DescribeInstancesRequest>,
    ) -> Result<Response<pb::DescribeInstancesResponse>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let inventory = at.inventory.as_ref();
        let response = instances::describe_instances(&at.ec2, inventory, r, scope.as_ref()).await?;
        Ok(answered(response, &at))
    }

    type DescribeInstancesStreamStream = MessageStream<pb::DescribeInstancesStreamResponse>;

    async fn describe_instances_stream(
        &self,
        request: Request<pb::DescribeInstancesStreamRequest>,
    ) -> Result<Response<Self::DescribeInstancesStreamStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let inventory = at.inventory.as_ref();
        let stream = instances::describe_instances_stream(&at.ec2, inventory, r, scope)?;
        Ok(answered(stream, &at))
    }

    async fn create_network_interface(
        &self,
        request: Request<pb::CreateNetworkInterfaceRequest>,
    ) -> Result<Response<pb::CreateNetworkInterfaceResponse>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let response =
            network_interfaces::create_network_interface(&at.ec2, r, scope.as_ref()).await?;
        Ok(answered(response, &at))
    }

    async fn describe_network_interfaces(
        &self,
        request: Request<pb::DescribeNetworkInterfacesRequest>,
    ) -> Result<Response<pb::DescribeNetworkInterfacesResponse>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let response =
            network_interfaces::describe_network_interfaces(&at.ec2, r, scope.as_ref()).await?;
        Ok(answered(response, &at))
    }

    type DescribeNetworkInterfacesStreamStream =
        MessageStream<pb::DescribeNetworkInterfacesStreamResponse>;

    async fn describe_network_interfaces_stream(
        &self,
        request: Request<pb::DescribeNetworkInterfacesStreamRequest>,
    ) -> Result<Response<Self::DescribeNetworkInterfacesStreamStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let stream = network_interfaces::describe_network_interfaces_stream(&at.ec2, r, scope)?;
        Ok(answered(stream, &at))
    }

    async fn attach_network_interface(
        &self,
        request: Request<pb::AttachNetworkInterfaceRequest>,
    ) -> Result<Response<pb::AttachNetworkInterfaceResponse>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let inventory = at.inventory.as_ref();
        let response =
            interface_lifecycle::attach_network_interface(&at.ec2, inventory, r, scope.as_ref())
                .await?;
        Ok(answered(response, &at))
    }

    async fn detach_network_interface(
        &self,
        request: Request<pb::DetachNetworkInterfaceRequest>,
    ) -> Result<Response<pb::DetachNetworkInterfaceResponse>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let response =
            interface_lifecycle::detach_network_interface(&at.ec2, r, scope.as_ref()).await?;
        Ok(answered(response, &at))
    }

    async fn delete_network_interface(
        &self,
        request: Request<pb::DeleteNetworkInterfaceRequest>,
    ) -> Result<Response<pb::DeleteNetworkInterfaceResponse>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let response =
            interface_lifecycle::delete_network_interface(&at.ec2, r, scope.as_ref()).await?;
        Ok(answered(response, &at))
    }

    type DeleteNetworkInterfacesStream = MessageStream<pb::DeleteNetworkInterfacesResponse>;

    async fn delete_network_interfaces(
        &self,
        request: Request<pb::DeleteNetworkInterfacesRequest>,
    ) -> Result<Response<Self::DeleteNetworkInterfacesStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let stream = interface_cleanup::delete_network_interfaces(&at.ec2, r, scope).await?;
        Ok(answered(stream, &at))
    }

    type StartInstancesStream = MessageStream<pb::StartInstancesResponse>;

    async fn start_instances(
        &self,
        request: Request<pb::StartInstancesRequest>,
    ) -> Result<Response<Self::StartInstancesStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let action = Action::Start {
            additional_info: non_empty(&r.additional_info),
        };
        self.act(
            &at,
            on_selection(r.selection, action, r.dry_run, r.preview, scope)?,
        )
        .await
    }

    type StopInstancesStream = MessageStream<pb::StopInstancesResponse>;

    async fn stop_instances(
        &self,
        request: Request<pb::StopInstancesRequest>,
    ) -> Result<Response<Self::StopInstancesStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let action = Action::Stop {
            hibernate: r.hibernate,
            force: r.force,
            skip_os_shutdown: r.skip_os_shutdown,
        };
        self.act(
            &at,
            on_selection(r.selection, action, r.dry_run, r.preview, scope)?,
        )
        .await
    }

    type RebootInstancesStream = MessageStream<pb::RebootInstancesResponse>;

    async fn reboot_instances(
        &self,
        request: Request<pb::RebootInstancesRequest>,
    ) -> Result<Response<Self::RebootInstancesStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        self.act(
            &at,
            on_selection(r.selection, Action::Reboot, r.dry_run, r.preview, scope)?,
        )
        .await
    }

    type TerminateInstancesStream = MessageStream<pb::TerminateInstancesResponse>;

    async fn terminate_instances(
        &self,
        request: Request<pb::TerminateInstancesRequest>,
    ) -> Result<Response<Self::TerminateInstancesStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        let action = Action::Terminate {
            force: r.force,
            skip_os_shutdown: r.skip_os_shutdown,
        };
        self.act(
            &at,
            on_selection(r.selection, action, r.dry_run, r.preview, scope)?,
        )
        .await
    }

    type MonitorInstancesStream = MessageStream<pb::MonitorInstancesResponse>;

    async fn monitor_instances(
        &self,
        request: Request<pb::MonitorInstancesRequest>,
    ) -> Result<Response<Self::MonitorInstancesStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        self.act(
            &at,
            on_selection(r.selection, Action::Monitor, r.dry_run, r.preview, scope)?,
        )
        .await
    }

    type UnmonitorInstancesStream = MessageStream<pb::UnmonitorInstancesResponse>;

    async fn unmonitor_instances(
        &self,
        request: Request<pb::UnmonitorInstancesRequest>,
    ) -> Result<Response<Self::UnmonitorInstancesStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        self.act(
            &at,
            on_selection(r.selection, Action::Unmonitor, r.dry_run, r.preview, scope)?,
        )
        .await
    }

    type CreateTagsStream = MessageStream<pb::CreateTagsResponse>;

    async fn create_tags(
        &self,
        request: Request<pb::CreateTagsRequest>,
    ) -> Result<Response<Self::CreateTagsStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        validate::create_tags(&r)?;
        if let Some(scope) = &scope {
            if !r.resource_ids.is_empty() {
                return Err(scope.refuse_resource_ids().into());
            }
            scope.keep_value(&r.tags, "tags")?;
        }
        let action = Action::CreateTags {
            tags: r.tags.iter().map(request::tag).collect(),
        };
        self.act(
            &at,
            ActionRequest {
                selection: r.selection,
                resource_ids: r.resource_ids,
                action,
                dry_run: r.dry_run,
                preview: r.preview,
                scope,
            },
        )
        .await
    }

    type WatchInstancesStream = MessageStream<pb::WatchInstancesResponse>;

    async fn watch_instances(
        &self,
        request: Request<pb::WatchInstancesRequest>,
    ) -> Result<Response<Self::WatchInstancesStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        validate::watch_instances(&r)?;
        if r.dry_run {
            describe_dry_run(&at.ec2).await?;
            let answer = pb::WatchInstancesResponse {
                dry_run_succeeded: true,
                ..Default::default()
            };
            return Ok(answered(stream::single(answer), &at));
        }
        let stream = watch::watch_instances(view(&at)?, r, scope)?;
        Ok(answered(stream, &at))
    }

    type WaitInstancesStream = MessageStream<pb::WaitInstancesResponse>;

    async fn wait_instances(
        &self,
        request: Request<pb::WaitInstancesRequest>,
    ) -> Result<Response<Self::WaitInstancesStream>, Status> {
        let (r, scope, at) = self.reach(request).await?;
        validate::wait_instances(&r)?;
        if r.dry_run {
            describe_dry_run(&at.ec2).await?;
            let answer = pb::WaitInstancesResponse {
                dry_run_succeeded: true,
                ..Default::default()
            };
            return Ok(answered(stream::single(answer), &at));
        }
        let stream = wait::wait_instances(view(&at)?, r, scope)?;
        Ok(answered(stream, &at))
    }

    lookups::lookup_rpcs!();
}
