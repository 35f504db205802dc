#!/usr/bin/env bash
# The test command: installs the test tools into the tree (moto, grpcurl, buf) and Debian's
# redis-server, then runs every test of the workspace (the gateway and its EC2 stand-in).
# Integration tests start their own moto_server, stand-in or redis-server on free loopback
# ports (see tests/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tools.sh
bash scripts/setup-redis.sh
# --nocapture: the figures tests print (property-test case counts, EC2 calls saved, stream
# pages fetched) show in the output. Extra arguments filter the tests by name.
cargo test --workspace --locked -- --nocapture "$@"
