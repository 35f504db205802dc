#!/usr/bin/env bash
# The test command: installs the test tools into the tree (moto, grpcurl, buf, the client kits'
# tools) and Debian's redis-server, builds the Python and TypeScript client kits (type-checking
# their examples), then runs every test of the workspace (the gateway, its EC2 stand-in, and the
# kits' example tours against the gateway, which print what they did).
# Integration tests start their own moto_server, stand-in or redis-server on free loopback
# ports (see tests/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tools.sh
bash scripts/setup-redis.sh
bash scripts/build-clients.sh
# --nocapture: the figures tests print (property-test case counts, EC2 calls saved, stream
# pages fetched) show in the output. Extra arguments filter the tests by name.
cargo test --workspace --locked -- --nocapture "$@"
