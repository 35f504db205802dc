#!/usr/bin/env bash
# Installs what the benchmark's Python side needs into its own venv, never system-wide:
#   .venv-bench/   grpcio + grpcio-tools + protobuf (the P3 gRPC client, stubs generated from
#                  proto/), boto3 and awscli v1 (the P3 baselines), matplotlib (report.py's plots)
# Kept apart from .venv (moto's) so neither pins the other's botocore or protobuf.
# The versions below are pinned together: awscli 1.46 vendors its own botocore, boto3 1.44.5
# wants botocore 1.44.x, and grpcio-tools 1.85.1 wants protobuf >= 7.35.1, < 8.
# Idempotent: a second run only checks the installed versions and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PINS=(
  "grpcio==1.85.1"
  "grpcio-tools==1.85.1"
  "protobuf==7.36.2"
  "boto3==1.44.5"
  "botocore==1.44.5"
  "awscli==1.46.3"
  "matplotlib==3.11.2"
)

if [ ! -x .venv-bench/bin/python ]; then
  echo "bench-setup: creating .venv-bench" >&2
  python3 -m venv .venv-bench
fi

# Answers 0 when every pin is installed at exactly its version.
pins_satisfied() {
  .venv-bench/bin/python - "${PINS[@]}" <<'EOF'
import importlib.metadata as metadata
import sys

for pin in sys.argv[1:]:
    name, version = pin.split("==")
    try:
        if metadata.version(name) != version:
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
EOF
}

if ! pins_satisfied || [ ! -x .venv-bench/bin/aws ]; then
  echo "bench-setup: installing ${PINS[*]} into .venv-bench" >&2
  .venv-bench/bin/pip install --quiet --disable-pip-version-check "${PINS[@]}"
  if ! pins_satisfied; then
    echo "bench-setup: .venv-bench does not hold the pinned versions after install" >&2
    exit 1
  fi
fi

# valgrind's callgrind for the profile of a call (benches/gateway/profile.rs).
if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
  echo "bench-setup: installing valgrind (Debian)" >&2
  apt-get update -qq >&2 && apt-get install -y -qq valgrind >&2
fi
echo "bench-setup: $(.venv-bench/bin/python - "${PINS[@]}" <<'EOF'
import importlib.metadata as metadata
import sys

print(", ".join(f"{p.split('==')[0]} {metadata.version(p.split('==')[0])}" for p in sys.argv[1:]))
EOF
)" >&2
