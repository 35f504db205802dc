//! Why the service could not start: one error type for what `telemetry::init` and
//! `server::run` refuse, printed by the binary before it exits non-zero.

use std::net::SocketAddr;

/// A reason the service did not start (or stopped serving).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// An address could not be bound.
    #[error("cannot listen on {address}{purpose}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// What it was for, when not gRPC (`" for metrics"`).
        purpose: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// Logs, traces or metrics could not be set up.
    #[error("{0}")]
    Telemetry(String),
    /// A tokens, JWKS or roles file or a JWKS URL could not be loaded.
    #[error("{0}")]
    Auth(String),
    /// The accounts file could not be read, or the home target's EC2 budget set up (its Redis
    /// URL, its password file).
    #[error("{0}")]
    Targets(String),
    /// The TLS certificate, key or client CA could not be loaded.
    #[error("{0}")]
    Tls(String),
    /// The audit policy file could not be read, or the audit writer started.
    #[error("audit: {0}")]
    Audit(String),
    /// Server reflection could not be built from the descriptor sets.
    #[error("server reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The gRPC server failed.
    #[error("serving gRPC: {0}")]
    Serve(#[from] tonic::transport::Error),
    /// The listener's own address could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
