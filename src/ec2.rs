//! The EC2 client, built from the standard AWS configuration chain.

use aws_config::BehaviorVersion;

/// Builds the EC2 client the way every AWS tool does: region, credentials (environment,
/// profile, web identity / IRSA, container and instance metadata) and endpoint overrides
/// (`AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`) all come from `aws-config`.
pub async fn client_from_env() -> aws_sdk_ec2::Client {
    let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
    aws_sdk_ec2::Client::new(&shared)
}
