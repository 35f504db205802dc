#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing, for the tests and the benchmark of the EC2
# budget shared through Redis (they start their own on free loopback ports, without
# persistence). The gateway itself needs Redis only with --ec2-budget-redis-url, and the demo
# never does, so scripts/demo.sh does not call this. A system package (apt, as root or through
# sudo): Redis is a server, not a Python or npm tool the tree could hold.
# Idempotent: a second run only checks that it is there.
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup-redis: installing Debian's redis-server" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    redis-server >/dev/null
fi
echo "setup-redis: $(redis-server --version | cut -d' ' -f1-3)" >&2
