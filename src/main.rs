//! The `ec2-grpc` binary: only wiring. The configuration builds each component's settings;
//! telemetry is installed, the server runs until SIGTERM or SIGINT, and telemetry is flushed
//! on the way out. `ec2-grpc check` reads the same configuration, reports what it finds, and
//! exits.

use ec2_grpc::config::{CheckArgs, Cli, Command, Config};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    match cli.command {
        Some(Command::Check(CheckArgs { aws })) => check_configuration(cli.config, aws).await,
        None => serve(cli.config.validated()).await,
    }
}

/// Serves until SIGTERM or SIGINT.
async fn serve(config: Config) -> ExitCode {
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

/// Prints what `ec2-grpc check` finds; exits 0 when all is well, 2 otherwise.
async fn check_configuration(config: Config, aws: bool) -> ExitCode {
    let flags = config.validate();
    let report = ec2_grpc::check::run(&config.server(), flags, aws).await;
    print!("{report}");
    ExitCode::from(report.exit_code())
}
