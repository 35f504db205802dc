//! Instance RPCs: DescribeInstances.

use crate::convert::{common, instance, non_empty, non_empty_list};
use crate::error::Error;
use crate::{pb, validate};

/// EC2 `DescribeInstances`: one page, ids, filters and DryRun passed through.
pub async fn describe_instances(
    ec2: &aws_sdk_ec2::Client,
    request: pb::DescribeInstancesRequest,
) -> Result<pb::DescribeInstancesResponse, Error> {
    validate::describe_instances(&request)?;
    let result = ec2
        .describe_instances()
        .set_instance_ids(non_empty_list(&request.instance_ids))
        .set_filters(common::filters(&request.filters))
        .set_max_results(request.max_results)
        .set_next_token(non_empty(&request.next_token))
        .dry_run(request.dry_run)
        .send()
        .await
        .map_err(Error::from);
    match result {
        Ok(output) => Ok(pb::DescribeInstancesResponse {
            reservations: output
                .reservations()
                .iter()
                .map(instance::reservation)
                .collect(),
            next_token: output.next_token().unwrap_or_default().to_owned(),
            dry_run_succeeded: false,
        }),
        Err(e) if e.is_dry_run_success() => Ok(pb::DescribeInstancesResponse {
            dry_run_succeeded: true,
            ..Default::default()
        }),
        Err(e) => Err(e),
    }
}
