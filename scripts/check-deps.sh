#!/usr/bin/env bash
# The supply-chain check of CI: cargo-deny's bans (duplicate versions reported, wildcards
# refused), licenses (deny.toml's allow list) and sources (crates.io only). cargo-deny is
# installed into .tools/cargo from crates.io on first use (a release build: a few minutes).
# Advisories need RustSec's database from GitHub, which this project's CI cannot reach:
# elsewhere, run `.tools/cargo/bin/cargo-deny check advisories` too.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION="0.20.2"
deny=.tools/cargo/bin/cargo-deny
if [ ! -x "$deny" ] || [ "$("$deny" --version)" != "cargo-deny ${CARGO_DENY_VERSION}" ]; then
  echo "check-deps: installing cargo-deny ${CARGO_DENY_VERSION} into .tools/cargo" >&2
  cargo install --locked --quiet --root .tools/cargo "cargo-deny@${CARGO_DENY_VERSION}"
fi
"$deny" check bans licenses sources
