#!/usr/bin/env bash
# The one command for the benchmarks: measures the gateway on this machine and writes
# BENCHMARKS.md (at the repo root) with its plots in benches/plots/.
#
#   bash scripts/bench.sh           P1-P6, P8 and P9
#   bash scripts/bench.sh --soak    the same, then the P7 soak (long: not run by default)
#
# It installs what it needs (scripts/setup-tools.sh for the project's tools, setup-redis.sh for P8, scripts/bench-setup.sh
# for .venv-bench: the Python clients of P3, the AWS CLI and matplotlib), runs the harness
# (benches/gateway, `cargo bench`), which starts the EC2 stand-in and the gateway's release
# binary on loopback and writes target/bench/results.json, then renders that JSON with
# benches/python/report.py. Everything runs on 127.0.0.1; nothing here asserts a timing.
set -euo pipefail
cd "$(dirname "$0")/.."

soak=()
for arg in "$@"; do
  case "$arg" in
    --soak) soak=(--soak) ;;
    *) echo "usage: bash scripts/bench.sh [--soak]" >&2; exit 2 ;;
  esac
done

bash scripts/setup-tools.sh
bash scripts/setup-redis.sh
bash scripts/bench-setup.sh

results=target/bench/results.json
EC2_GRPC_BENCH_PYTHON="$PWD/.venv-bench/bin/python" \
EC2_GRPC_BENCH_AWSCLI="$PWD/.venv-bench/bin/aws" \
  cargo bench --locked --bench gateway -- --out "$results" ${soak[@]+"${soak[@]}"}

.venv-bench/bin/python benches/python/report.py "$results"
echo "bench: wrote $PWD/BENCHMARKS.md (plots in $PWD/benches/plots/, raw results in $PWD/$results)"
