#!/usr/bin/env bash
# Builds the client kits the way their users get them and type-checks their examples strictly:
# installs clients/python into .venv (pip) and runs `mypy --strict` on the kit and its example;
# builds clients/typescript (npm's prepare: tsc) and runs `tsc --noEmit` on its example, then
# compiles the example for the test that runs it (tests/gateway/client_kits.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-tools.sh
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps --force-reinstall ./clients/python
.venv/bin/mypy --strict clients/python/src/ec2_grpc clients/python/examples/tour.py

npm run --silent --prefix clients/typescript prepare
npm run --silent --prefix clients/typescript check-examples
npm run --silent --prefix clients/typescript build-examples
echo "build-clients: python and typescript kits built; examples type-check (mypy --strict, tsc --noEmit)" >&2
