//! Integration tests against a real EC2 endpoint: every test starts its own `moto_server` on a
//! free loopback port (see `support`), so tests never share state. One test binary, because
//! each links aws-sdk-ec2.
//!
//! What moto cannot show (idempotent client tokens, throttling, faults, paging of network
//! interfaces, scale) is tested elsewhere: the stream engine's splitting and resuming in
//! `src/api/stream.rs` unit tests.

mod actions;
mod describe;
mod launch;
mod process;
mod streams;
mod support;
