//! Instance RPCs: RunInstances, DescribeInstances and its streamed form.

use super::stream::{self, Describe, MessageStream, Page};
use super::view_reads::{self, VIEW_TOKEN_PREFIX, ViewInstances, ViewQuestion};
use super::{check_scope, client_token, group_reservations, scoped_filters, unless_dry_run};
use crate::auth::scope::TagScope;
use crate::convert::{instance, non_empty, request};
use crate::ec2::{DescribePage, Ec2};
use crate::error::Error;
use crate::inventory::Inventory;
use crate::{pb, validate};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// EC2 `RunInstances`, every parameter passed through. `min_count` defaults to 1 and
/// `max_count` to `min_count`; user data is base64-encoded for EC2; the client token is the
/// caller's or one made for this call. A scoped caller's instances get its tag. The
/// inventory, if on, takes the new instances in at once and follows them until they run.
pub async fn run_instances(
    ec2: &Ec2,
    inventory: Option<&Inventory>,
    mut request: pb::RunInstancesRequest,
    scope: Option<&TagScope>,
) -> Result<pb::RunInstancesResponse, Error> {
    validate::run_instances(&request)?;
    if let Some(scope) = scope {
        scope.tag_on_creation(&mut request.tag_specifications, "instance")?;
    }
    let min_count = request.min_count.unwrap_or(1);
    let max_count = request.max_count.unwrap_or(min_count);
    let user_data = (!request.user_data.is_empty()).then(|| BASE64.encode(&request.user_data));
    let result = request::run_instances(ec2.client.run_instances(), &request)
        .min_count(min_count)
        .max_count(max_count)
        .set_user_data(user_data)
        .client_token(client_token(&request.client_token))
        .send()
        .await
        .map(instance::run_instances_output)
        .map_err(Error::from);
    if let (Ok(launched), Some(notes)) = (&result, crate::call::Call::notes()) {
        let ids: Vec<String> = launched
            .instances
            .iter()
            .map(|i| i.instance_id.clone())
            .collect();
        notes.resources(&ids);
    }
    if let (Ok(launched), Some(inventory)) = (&result, inventory) {
        inventory.launched(&pb::Reservation {
            reservation_id: launched.reservation_id.clone(),
            owner_id: launched.owner_id.clone(),
            requester_id: launched.requester_id.clone(),
            groups: launched.groups.clone(),
            instances: launched.instances.clone(),
        });
    }
    unless_dry_run(result, || pb::RunInstancesResponse {
        dry_run_succeeded: true,
        ..Default::default()
    })
}

/// EC2 `DescribeInstances`: one page, ids, filters and DryRun passed through; a scoped
/// caller's describe only sees its scope. With `max_staleness`, the view may answer.
pub async fn describe_instances(
    ec2: &Ec2,
    inventory: Option<&Inventory>,
    request: pb::DescribeInstancesRequest,
    scope: Option<&TagScope>,
) -> Result<pb::DescribeInstancesResponse, Error> {
    validate::describe_instances(&request)?;
    let question = ViewQuestion {
        max_staleness: request.max_staleness.as_ref(),
        filters: &request.filters,
        include_managed_resources: request.include_managed_resources,
        dry_run: request.dry_run,
        resumes_view: request.next_token.starts_with(VIEW_TOKEN_PREFIX),
    };
    if let Some((inventory, age)) = view_reads::answerer(inventory, &question)? {
        let fingerprint = view_reads::unary_fingerprint(&request, scope);
        let view = ViewInstances::new(
            inventory,
            &request.instance_ids,
            &request.filters,
            scope.cloned(),
            age,
        )?;
        return view.describe(request.max_results, &request.next_token, fingerprint);
    }
    let page = DescribePage {
        filters: scoped_filters(&request.instance_ids, &request.filters, scope),
        ids: request.instance_ids,
        max_results: request.max_results,
        next_token: non_empty(&request.next_token),
        include_managed_resources: request.include_managed_resources,
        dry_run: request.dry_run,
    };
    let result = ec2
        .describe_instances(page)
        .await
        .map(|output| pb::DescribeInstancesResponse {
            reservations: output
                .reservations
                .into_iter()
                .flatten()
                .map(instance::reservation)
                .collect(),
            next_token: output.next_token.unwrap_or_default(),
            ..Default::default()
        })
        .and_then(|response| {
            check_scope(scope, &response.reservations)?;
            Ok(response)
        });
    unless_dry_run(result, || pb::DescribeInstancesResponse {
        dry_run_succeeded: true,
        ..Default::default()
    })
}

/// `DescribeInstancesStream`: every page of EC2 `DescribeInstances`, streamed (from the view
/// when `max_staleness` allows).
pub fn describe_instances_stream(
    ec2: &Ec2,
    inventory: Option<&Inventory>,
    request: pb::DescribeInstancesStreamRequest,
    scope: Option<TagScope>,
) -> Result<MessageStream<pb::DescribeInstancesStreamResponse>, Error> {
    validate::describe_instances_stream(&request)?;
    // The token binds to what selects the items, not to how they are paged.
    let selection = pb::DescribeInstancesStreamRequest {
        next_token: String::new(),
        max_results: None,
        limit: None,
        ..request.clone()
    };
    let scope_tag = scope.as_ref().map(TagScope::tag);
    let (start, limit) = stream::start(
        stream::fingerprint(&selection, scope_tag.as_deref()),
        !request.instance_ids.is_empty(),
        request.max_results,
        &request.next_token,
        request.limit,
    )?;
    let question = ViewQuestion {
        max_staleness: request.max_staleness.as_ref(),
        filters: &request.filters,
        include_managed_resources: request.include_managed_resources,
        dry_run: request.dry_run,
        resumes_view: start
            .page_token()
            .is_some_and(|t| t.starts_with(VIEW_TOKEN_PREFIX)),
    };
    if let Some((inventory, age)) = view_reads::answerer(inventory, &question)? {
        let view = ViewInstances::new(
            inventory,
            &request.instance_ids,
            &request.filters,
            scope,
            age,
        )?;
        return Ok(stream::stream(view, start, limit));
    }
    let describe = Instances {
        ec2: ec2.clone(),
        template: DescribePage {
            filters: scoped_filters(&request.instance_ids, &request.filters, scope.as_ref()),
            ids: request.instance_ids,
            include_managed_resources: request.include_managed_resources,
            dry_run: request.dry_run,
            ..DescribePage::default()
        },
        scope,
    };
    Ok(stream::stream(describe, start, limit))
}

/// DescribeInstances as a streamed describe. Items are single-instance reservations, so a
/// message can end inside a reservation; `message` regroups consecutive items. Resolving an
/// action's selection pages through it too.
pub(super) struct Instances {
    /// The EC2 seam.
    ec2: Ec2,
    /// What every page asks for; `fetch` adds the page size and token.
    template: DescribePage,
    /// The caller's tag scope: every instance of every page must carry its tag.
    scope: Option<TagScope>,
}

impl Instances {
    /// Describes `instance_ids` and/or `filters` (no managed resources, no dry run), within
    /// `scope`.
    pub(super) fn new(
        ec2: &Ec2,
        instance_ids: Vec<String>,
        filters: &[pb::Filter],
        scope: Option<TagScope>,
    ) -> Self {
        Instances {
            ec2: ec2.clone(),
            template: DescribePage {
                filters: scoped_filters(&instance_ids, filters, scope.as_ref()),
                ids: instance_ids,
                ..DescribePage::default()
            },
            scope,
        }
    }
}

impl Describe for Instances {
    type Item = pb::Reservation;
    type Message = pb::DescribeInstancesStreamResponse;

    async fn fetch(
        &self,
        token: Option<String>,
        page_size: Option<i32>,
    ) -> Result<Page<pb::Reservation>, Error> {
        let page = DescribePage {
            max_results: page_size,
            next_token: token,
            ..self.template.clone()
        };
        let output = self.ec2.describe_instances(page).await?;
        let next_token = output.next_token;
        let items = output
            .reservations
            .into_iter()
            .flatten()
            .flat_map(|r| {
                let mut header = instance::reservation(r);
                let instances = std::mem::take(&mut header.instances);
                instances.into_iter().map(move |i| pb::Reservation {
                    instances: vec![i],
                    ..header.clone()
                })
            })
            .collect::<Vec<_>>();
        check_scope(self.scope.as_ref(), &items)?;
        Ok(Page { items, next_token })
    }

    fn message(&self, items: Vec<pb::Reservation>, next_token: String) -> Self::Message {
        pb::DescribeInstancesStreamResponse {
            reservations: group_reservations(items),
            next_token,
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
