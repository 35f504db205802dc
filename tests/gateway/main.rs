//! Integration tests against a real EC2 endpoint: every test starts its own `moto_server` on a
//! free loopback port (see `support`), so tests never share state. One test binary, because
//! each links aws-sdk-ec2.
//!
//! Most tests run against moto, the fidelity reference; `standin.rs` runs against the
//! project's own stand-in (`tools/ec2-standin`) what moto cannot serve: faults, throttling,
//! idempotent client tokens, Monitor/Unmonitor, paged network interfaces, scale; and
//! `inventory.rs` its state transitions and changes made behind the gateway's back. See
//! `tests/README.md`.

mod actions;
mod audit;
mod auth;
mod check;
mod client_kits;
mod counting_proxy;
mod describe;
mod events;
mod interface_lifecycle;
mod inventory;
mod launch;
mod lookups;
mod mtls;
mod process;
mod protection;
mod scope;
mod shared_budget;
mod standin;
mod streams;
mod support;
mod target_budgets;
mod targets;
mod telemetry;
