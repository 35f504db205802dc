#!/usr/bin/env bash
# The test command: installs the test tools into the tree (moto, grpcurl, buf), then runs
# every test of the workspace (the gateway and its EC2 stand-in). Integration tests start
# their own moto_server or stand-in on free loopback ports (see tests/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tools.sh
cargo test --workspace --locked "$@"
