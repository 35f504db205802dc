//! The `ec2-grpc` binary: only wiring. The configuration builds each component's settings;
//! telemetry is installed, the server runs until SIGTERM or SIGINT, and telemetry is flushed
//! on the way out.

use ec2_grpc::config::Config;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::load();
    let telemetry = match ec2_grpc::telemetry::init(&config.telemetry()) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("ec2-grpc: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = ec2_grpc::server::run(config.server(), &telemetry).await;
    if let Err(e) = &outcome {
        tracing::error!("{e}");
    }
    telemetry.shutdown();
    if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
