#!/usr/bin/env bash
# The test command: installs the test tools into the tree (moto, grpcurl, buf), then runs
# every test. Integration tests start their own moto_server on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tools.sh
cargo test --locked "$@"
