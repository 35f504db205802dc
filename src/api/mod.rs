//! The `ec2.v1.Ec2Service` implementation: one file per RPC group, each RPC validating its
//! request, calling EC2 and converting the answer. Streamed describes share `stream`.

mod instances;
mod network_interfaces;
pub mod stream;

use crate::error::Error;
use crate::pb;
use crate::pb::ec2_service_server::Ec2Service;
use stream::MessageStream;
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

/// EC2's `DryRunOperation` answer means "you may, and it would have worked": the RPC succeeds
/// with the response `dry_run` builds (which sets `dry_run_succeeded`).
fn unless_dry_run<T>(result: Result<T, Error>, dry_run: impl FnOnce() -> T) -> Result<T, Error> {
    match result {
        Err(e) if e.is_dry_run_success() => Ok(dry_run()),
        other => other,
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
        let response = instances::run_instances(&self.ec2, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn describe_instances(
        &self,
        request: Request<pb::DescribeInstancesRequest>,
    ) -> Result<Response<pb::DescribeInstancesResponse>, Status> {
        let response = instances::describe_instances(&self.ec2, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    type DescribeInstancesStreamStream = MessageStream<pb::DescribeInstancesStreamResponse>;

    async fn describe_instances_stream(
        &self,
        request: Request<pb::DescribeInstancesStreamRequest>,
    ) -> Result<Response<Self::DescribeInstancesStreamStream>, Status> {
        let stream = instances::describe_instances_stream(&self.ec2, request.into_inner())?;
        Ok(Response::new(stream))
    }

    async fn create_network_interface(
        &self,
        request: Request<pb::CreateNetworkInterfaceRequest>,
    ) -> Result<Response<pb::CreateNetworkInterfaceResponse>, Status> {
        let response =
            network_interfaces::create_network_interface(&self.ec2, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn describe_network_interfaces(
        &self,
        request: Request<pb::DescribeNetworkInterfacesRequest>,
    ) -> Result<Response<pb::DescribeNetworkInterfacesResponse>, Status> {
        let response =
            network_interfaces::describe_network_interfaces(&self.ec2, request.into_inner())
                .await?;
        Ok(Response::new(response))
    }

    type DescribeNetworkInterfacesStreamStream =
        MessageStream<pb::DescribeNetworkInterfacesStreamResponse>;

    async fn describe_network_interfaces_stream(
        &self,
        request: Request<pb::DescribeNetworkInterfacesStreamRequest>,
    ) -> Result<Response<Self::DescribeNetworkInterfacesStreamStream>, Status> {
        let stream = network_interfaces::describe_network_interfaces_stream(
            &self.ec2,
            request.into_inner(),
        )?;
        Ok(Response::new(stream))
    }
}
