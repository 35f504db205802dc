#!/usr/bin/env bash
# Regenerates every client kit from proto/ with buf.gen.yaml and local plugins only
# (grpcio-tools and mypy-protobuf in .venv, protoc-gen-es in clients/typescript/node_modules,
# all installed by scripts/setup-tools.sh). The output is committed; running this twice
# changes nothing.
#   --check   regenerate, then fail if that changed any generated file (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-tools.sh
.tools/node_modules/.bin/buf generate

# The generated Python modules as regular, typed packages (buf's `clean` removed the old ones).
for package in clients/python/gen/ec2 clients/python/gen/ec2/v1; do
  echo '"""Generated from proto/ by scripts/gen-clients.sh. Do not edit."""' > "$package/__init__.py"
done
: > clients/python/gen/ec2/py.typed

GENERATED=(clients/python/gen clients/typescript/src/gen)
if [ "${1:-}" = "--check" ]; then
  untracked=$(git ls-files --others --exclude-standard -- "${GENERATED[@]}")
  if ! git diff --exit-code --stat -- "${GENERATED[@]}" || [ -n "$untracked" ]; then
    [ -z "$untracked" ] || printf 'not committed: %s\n' $untracked >&2
    echo "gen-clients: the committed client code is not what proto/ generates; run scripts/gen-clients.sh and commit" >&2
    exit 1
  fi
  echo "gen-clients: the committed client code is current" >&2
fi
