//! ec2-grpc: a gRPC gateway to Amazon EC2, the one door from internal services to the EC2 API.
//!
//! Callers speak gRPC (generated stubs, or `grpcurl` through server reflection); the gateway
//! translates each call into `aws-sdk-ec2` calls made with the standard `aws-config` chain
//! (credentials, region, `AWS_ENDPOINT_URL_EC2`), and answers with the EC2 shapes as protobuf.
//!
//! # Layout
//!
//! - `proto/ec2/v1/` is the public contract; [`pb`] is the code generated from it, and
//!   [`wire`] the messages of it written by hand (to send encoded parts as they are).
//! - [`config`]: command-line flags and environment, validated once at start; it builds each
//!   component's settings, and no component imports it (`src/main.rs` only wires).
//! - [`startup`]: why the service could not start.
//! - [`call`]: the context of the call being served (deadline, span, EC2 attempts), as a tower
//!   layer and a task-local every EC2 attempt reads; [`call_end`]: how a call's response
//!   ended, for the layers that act then (telemetry, audit).
//! - [`auth`]: authentication (bearer tokens, JWTs from a JWKS file or URL, mTLS client
//!   certificates) and role-based authorization with optional tag scopes, as a tower layer.
//! - [`tls`]: TLS (and mTLS) on the gRPC port, its files read again when renewed.
//! - [`watched`]: files (Secret and ConfigMap mounts) kept current: tokens, JWKS, roles, TLS.
//! - [`telemetry`]: logs, OpenTelemetry traces and metrics, the per-call observing layer, and
//!   the Prometheus endpoint.
//! - [`server`]: the tonic server behind its tower stack (call observation and deadline on
//!   every call; authentication, caller quota and shedding on `Ec2Service`), with health,
//!   reflection and graceful shutdown.
//! - [`api`]: the `Ec2Service` implementation, one file per RPC group; each RPC validates,
//!   calls EC2 and converts the answer.
//! - [`validate`]: request checks made before any EC2 call, reported as field violations.
//! - [`convert`]: protobuf <-> aws-sdk-ec2 type conversions, one function per EC2 shape.
//! - [`ec2`]: the EC2 seam: the SDK client from the standard AWS configuration with the EC2
//!   budget and the caller's deadline on every attempt; describes that coalesce.
//! - [`protection`]: the EC2 budget, per-caller quotas, load shedding, counters.
//! - [`targets`]: the accounts and regions the gateway serves (the accounts file), each
//!   call's target resolved once, and per target its SDK client, budget and view, built on
//!   first use; assumed-role credentials per account.
//! - [`inventory`]: the replica's view of the account's instances (full lists, targeted
//!   refreshes, revisions), from which watches, waits and `max_staleness` reads are served.
//! - [`error`]: the one error type and the single EC2-error -> gRPC-status mapping.
//!
//! Modules depend downwards only: `tests/architecture.rs` fails on an import cycle between
//! modules.

pub mod api;
pub mod audit;
pub mod auth;
pub mod call;
pub mod call_end;
pub mod check;
pub mod config;
pub mod convert;
pub mod ec2;
pub mod error;
pub mod events;
pub mod inventory;
pub mod lookup_catalog;
pub mod protection;
pub mod server;
pub mod startup;
pub mod targets;
pub mod telemetry;
pub mod tls;
pub mod toml_lines;
pub mod validate;
pub mod watched;
pub mod wire;

/// Code generated from `proto/ec2/v1/` (package `ec2.v1`): messages, server and client.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("ec2.v1");
    pub use crate::wire::{DescribeInstancesResponse, DescribeInstancesStreamResponse};

    /// The encoded descriptor set of `ec2.v1`, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("ec2_v1_descriptor");
}

pub use error::Error;
