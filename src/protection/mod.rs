//! Protecting the AWS account and the service: the EC2 budget, per-caller quotas, load
//! shedding, the call context (deadline) every EC2 attempt sees, and the counters that show
//! them working.
//!
//! Where each sits: the budget gates every EC2 HTTP attempt (in the SDK's HTTP client, see
//! `ec2::budgeted`); the quota and shedding layers wrap `Ec2Service` in `server.rs` (the call's
//! deadline is `crate::call`'s); coalescing lives with the EC2 calls it merges
//! (`ec2::coalesce`, `ec2::batch`).

pub mod budget;
pub mod caller_quota;
pub mod shed;
pub mod stats;

use crate::error::Error;
use std::future::Future;
use std::pin::Pin;

/// The gRPC-side limits: each caller's quota and how many calls run at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Calls per second per caller.
    pub caller_rate: f64,
    /// Burst per caller.
    pub caller_burst: f64,
    /// Calls handled at once; more are shed.
    pub max_concurrent_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            caller_rate: 50.0,
            caller_burst: 100.0,
            max_concurrent_calls: 1024,
        }
    }
}

/// The answer of a layer that refuses a call before the service sees it: the error as a gRPC
/// status with its details, as the layer's response future.
pub fn refuse<R: Default + Send + 'static, E>(
    error: Error,
) -> Pin<Box<dyn Future<Output = Result<http::Response<R>, E>> + Send>> {
    let response = tonic::Status::from(error).into_http();
    Box::pin(async move { Ok(response) })
}
