# syntax=docker/dockerfile:1
#
# ec2-grpc container image.
#
#   docker build -t ec2-grpc:0.1.0 .
#   docker run --rm -p 50051:50051 -e AWS_REGION=us-east-1 ec2-grpc:0.1.0
#
# Two stages: a Rust builder and a distroless runtime that holds only the binary, glibc,
# libgcc and the CA bundle (aws-sdk-ec2 verifies EC2/STS TLS against the system roots through
# rustls-native-certs, so the bundle in cc-debian12 is required). No shell, no package manager.

############################################################################################
# Build stage
############################################################################################
FROM rust:1.95.0-bookworm AS builder

WORKDIR /src

# No protoc is installed on purpose: build.rs compiles proto/ with protox (pure Rust).
# Only what the build reads is copied (see also .dockerignore); tests/ is not needed for
# `cargo build --bin`.
COPY Cargo.toml Cargo.lock build.rs rust-toolchain.toml ./
COPY proto ./proto
COPY src ./src
# The workspace names the test stand-in as a member, so cargo needs its manifest and sources
# to load the workspace; only the ec2-grpc binary is built and shipped.
COPY tools ./tools

# The cache mounts keep the crates.io registry and target/ between builds (BuildKit); the
# binary is copied out of the cached target/ so the next stage can see it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ec2-grpc \
 && install -D -m 0755 target/release/ec2-grpc /out/ec2-grpc

############################################################################################
# Runtime stage
############################################################################################
# cc-debian12 matches the builder's glibc (bookworm); :nonroot runs as uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot

LABEL org.opencontainers.image.title="ec2-grpc" \
      org.opencontainers.image.description="A gRPC gateway to Amazon EC2" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=builder /out/ec2-grpc /ec2-grpc

# Numeric, so Kubernetes' runAsNonRoot can verify it without resolving a user name.
USER 65532:65532

# gRPC (the service, grpc.health.v1 and reflection). Logs go to stderr; the process writes no
# files, so the root filesystem can be mounted read-only.
# 9090: Prometheus text metrics, served when --metrics-listen 0.0.0.0:9090 is given (the Helm
# chart does so with metrics.enabled).
EXPOSE 50051 9090

ENTRYPOINT ["/ec2-grpc"]

# Default arguments for a plain `docker run`:
#   --listen 0.0.0.0:50051     a container must listen on all interfaces to be reachable;
#                              the binary's own default (127.0.0.1) is loopback only.
#   --allow-unauthenticated    the service has no caller authentication yet, and protected mode
#                              refuses a non-loopback --listen without this flag (exit code 2).
#                              Whoever runs the image must restrict who can connect (a
#                              Kubernetes NetworkPolicy, a private network, a sidecar).
#   --log-format json          one JSON object per line, for log collectors.
# Flags win over environment variables, so anything that configures the binary through
# EC2_GRPC_* variables must replace these arguments: the Helm chart sets `command:
# ["/ec2-grpc"]`, which makes Kubernetes ignore this CMD, and configures the binary through
# its ConfigMap instead. `docker run IMAGE --help` prints every option.
CMD ["--listen", "0.0.0.0:50051", "--allow-unauthenticated", "--log-format", "json"]
