//! The `ec2.v1.Ec2Service` implementation: one file per RPC group, each RPC validating its
//! request, calling EC2 and converting the answer.

mod instances;

use crate::pb;
use crate::pb::ec2_service_server::Ec2Service;
use tonic::{Request, Response, Status};

/// The gateway's service state: the EC2 client every RPC calls through.
#[derive(Clone, Debug)]
pub struct Gateway {
    /// The aws-sdk-ec2 client (cheap to clone; shares one connection pool).
    ec2: aws_sdk_ec2::Client,
}

impl Gateway {
    /// A gateway that calls EC2 through `ec2`.
    pub fn new(ec2: aws_sdk_ec2::Client) -> Self {
        Self { ec2 }
    }
}

#[tonic::async_trait]
impl Ec2Service for Gateway {
    async fn describe_instances(
        &self,
        request: Request<pb::DescribeInstancesRequest>,
    ) -> Result<Response<pb::DescribeInstancesResponse>, Status> {
        let response = instances::describe_instances(&self.ec2, request.into_inner()).await?;
        Ok(Response::new(response))
    }
}
