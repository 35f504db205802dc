//! The `ec2-grpc` binary: configuration, logging, then the server.

use ec2_grpc::config::Config;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::load();
    ec2_grpc::telemetry::init(&config);
    match ec2_grpc::server::run(&config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
