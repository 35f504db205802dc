//! Command-line flags and environment variables, validated once at start.
//!
//! AWS settings (region, credentials, `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL`, profile)
//! are deliberately absent: they come from the standard `aws-config` chain, under the names
//! AWS already documents.

use clap::{CommandFactory, Parser, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

/// The service configuration: every option of `ec2-grpc --help`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ec2-grpc",
    version,
    about = "A gRPC gateway to Amazon EC2.",
    long_about = "A gRPC gateway to Amazon EC2: internal services call EC2 through it over gRPC \
                  (server reflection included, so grpcurl needs no .proto file).\n\n\
                  AWS region, credentials and endpoint come from the standard AWS configuration: \
                  AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, web identity \
                  (IRSA), instance metadata, and AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for a \
                  local EC2 stand-in."
)]
pub struct Config {
    /// Address to serve gRPC on. A non-loopback address also needs --allow-unauthenticated,
    /// since this version does not authenticate callers.
    #[arg(long, env = "EC2_GRPC_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Serve on a non-loopback address without authenticating callers. Only for networks where
    /// something else (a network policy, a sidecar) already decides who may connect.
    #[arg(long, env = "EC2_GRPC_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,

    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives such as
    /// `info,ec2_grpc=debug`.
    #[arg(long, env = "EC2_GRPC_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, value_enum, env = "EC2_GRPC_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Most instance ids per EC2 call when acting on a selection (start, stop, reboot,
    /// terminate, monitor, unmonitor, tags): 1 to 1000, EC2's maximum.
    #[arg(long, env = "EC2_GRPC_ACTION_BATCH_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub action_batch_size: u16,

    /// On SIGTERM or SIGINT, how long in-flight calls may take to finish before the server
    /// exits anyway (seconds).
    #[arg(long, env = "EC2_GRPC_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for terminals.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Config {
    /// Parses flags and environment and validates them; on bad configuration prints a clear
    /// message and exits with code 2 (the usage-error convention clap also follows).
    pub fn load() -> Self {
        let config = Self::parse();
        if let Err(message) = config.validate() {
            Self::command()
                .error(clap::error::ErrorKind::ValueValidation, message)
                .exit();
        }
        config
    }

    /// Checks what clap's types cannot: the log filter parses, and protected mode.
    pub fn validate(&self) -> Result<(), String> {
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|e| {
            format!(
                "--log-level {:?} is not a valid log filter: {e}",
                self.log_level
            )
        })?;
        self.check_protected_mode()
    }

    /// Protected mode: this service can launch and terminate instances for anyone who reaches
    /// it, so without authentication it only serves on loopback unless told otherwise.
    fn check_protected_mode(&self) -> Result<(), String> {
        if self.listen.ip().is_loopback() || self.allow_unauthenticated {
            return Ok(());
        }
        Err(format!(
            "refusing to listen on {} without authentication: any caller that can reach this \
             address could launch and terminate EC2 instances. Listen on a loopback address \
             (for example --listen 127.0.0.1:{}), or pass --allow-unauthenticated \
             (EC2_GRPC_ALLOW_UNAUTHENTICATED=true) when something else already restricts who can \
             connect (this version has no built-in caller authentication yet).",
            self.listen,
            self.listen.port()
        ))
    }

    /// The grace period for in-flight calls at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("ec2-grpc").chain(args.iter().copied()))
            .expect("flags parse")
    }

    #[test]
    fn loopback_needs_no_configuration() {
        assert_eq!(parse(&[]).validate(), Ok(()));
        assert_eq!(parse(&["--listen", "[::1]:9000"]).validate(), Ok(()));
    }

    #[test]
    fn non_loopback_without_auth_is_refused_with_the_way_out() {
        let err = parse(&["--listen", "0.0.0.0:50051"])
            .validate()
            .unwrap_err();
        assert!(err.contains("--allow-unauthenticated"), "{err}");
        assert!(err.contains("0.0.0.0:50051"), "{err}");
        assert_eq!(
            parse(&["--listen", "0.0.0.0:50051", "--allow-unauthenticated"]).validate(),
            Ok(())
        );
    }

    #[test]
    fn a_bad_log_filter_is_refused() {
        let err = parse(&["--log-level", "info,=["]).validate().unwrap_err();
        assert!(err.contains("--log-level"), "{err}");
    }
}
