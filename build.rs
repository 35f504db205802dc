//! Compiles `proto/` into Rust with cargo alone: `protox` parses the .proto files in pure
//! Rust (no system `protoc`), `tonic-prost-build` generates messages, server and client, and
//! the encoded descriptor set is written for gRPC server reflection.

use prost::Message;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/ec2/v1/ec2_service.proto",
    "proto/ec2/v1/error_reason.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("ec2_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        // Written by hand (src/wire.rs) so the instance view's encoded reservations are sent
        // as they are.
        .extern_path(
            ".ec2.v1.DescribeInstancesResponse",
            "crate::wire::DescribeInstancesResponse",
        )
        .extern_path(
            ".ec2.v1.DescribeInstancesStreamResponse",
            "crate::wire::DescribeInstancesStreamResponse",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
