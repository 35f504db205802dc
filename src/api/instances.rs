//! Instance RPCs: RunInstances, DescribeInstances and its streamed form.

use super::stream::{self, Describe, MessageStream, Page};
use super::{client_token, unless_dry_run};
use crate::convert::{common, instance, non_empty, request};
use crate::ec2::{Ec2, InstancesPage};
use crate::error::Error;
use crate::{pb, validate};
use aws_sdk_ec2::types::Filter;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// EC2 `RunInstances`, every parameter passed through. `min_count` defaults to 1 and
/// `max_count` to `min_count`; user data is base64-encoded for EC2; the client token is the
/// caller's or one made for this call.
pub async fn run_instances(
    ec2: &Ec2,
    request: pb::RunInstancesRequest,
) -> Result<pb::RunInstancesResponse, Error> {
    validate::run_instances(&request)?;
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
        .map(|output| instance::run_instances_output(&output))
        .map_err(Error::from);
    unless_dry_run(result, || pb::RunInstancesResponse {
        dry_run_succeeded: true,
        ..Default::default()
    })
}

/// EC2 `DescribeInstances`: one page, ids, filters and DryRun passed through.
pub async fn describe_instances(
    ec2: &Ec2,
    request: pb::DescribeInstancesRequest,
) -> Result<pb::DescribeInstancesResponse, Error> {
    validate::describe_instances(&request)?;
    let page = InstancesPage {
        instance_ids: request.instance_ids,
        filters: common::filters(&request.filters).unwrap_or_default(),
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
                .reservations()
                .iter()
                .map(instance::reservation)
                .collect(),
            next_token: output.next_token().unwrap_or_default().to_owned(),
            dry_run_succeeded: false,
        });
    unless_dry_run(result, || pb::DescribeInstancesResponse {
        dry_run_succeeded: true,
        ..Default::default()
    })
}

/// `DescribeInstancesStream`: every page of EC2 `DescribeInstances`, streamed.
pub fn describe_instances_stream(
    ec2: &Ec2,
    request: pb::DescribeInstancesStreamRequest,
) -> Result<MessageStream<pb::DescribeInstancesStreamResponse>, Error> {
    validate::describe_instances_stream(&request)?;
    let (start, limit) = stream::start(
        !request.instance_ids.is_empty(),
        request.max_results,
        &request.next_token,
        request.limit,
    )?;
    let describe = Instances {
        ec2: ec2.clone(),
        template: InstancesPage {
            instance_ids: request.instance_ids,
            filters: common::filters(&request.filters).unwrap_or_default(),
            include_managed_resources: request.include_managed_resources,
            dry_run: request.dry_run,
            ..InstancesPage::default()
        },
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
    template: InstancesPage,
}

impl Instances {
    /// Describes `instance_ids` and/or `filters` (no managed resources, no dry run).
    pub(super) fn new(ec2: &Ec2, instance_ids: Vec<String>, filters: Vec<Filter>) -> Self {
        Instances {
            ec2: ec2.clone(),
            template: InstancesPage {
                instance_ids,
                filters,
                ..InstancesPage::default()
            },
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
        let page = InstancesPage {
            max_results: page_size,
            next_token: token,
            ..self.template.clone()
        };
        let output = self.ec2.describe_instances(page).await?;
        let items = output
            .reservations()
            .iter()
            .flat_map(|r| {
                let mut header = instance::reservation(r);
                let instances = std::mem::take(&mut header.instances);
                instances.into_iter().map(move |i| pb::Reservation {
                    instances: vec![i],
                    ..header.clone()
                })
            })
            .collect();
        Ok(Page {
            items,
            next_token: output.next_token().map(str::to_owned),
        })
    }

    fn message(&self, items: Vec<pb::Reservation>, next_token: String) -> Self::Message {
        let mut reservations: Vec<pb::Reservation> = Vec::new();
        for mut item in items {
            match reservations.last_mut() {
                Some(last) if last.reservation_id == item.reservation_id => {
                    last.instances.append(&mut item.instances);
                }
                _ => reservations.push(item),
            }
        }
        pb::DescribeInstancesStreamResponse {
            reservations,
            next_token,
            dry_run_succeeded: false,
        }
    }

    fn dry_run_succeeded(&self) -> Self::Message {
        pb::DescribeInstancesStreamResponse {
            dry_run_succeeded: true,
            ..Default::default()
        }
    }
}
