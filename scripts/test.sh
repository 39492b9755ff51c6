#!/usr/bin/env bash
# The test command: set-up, build, then every test (unit and end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# e2e tests start daemons and real plugins; 5 s (bun's default) is too tight on a loaded 2-core machine.
exec node_modules/.bin/bun test --timeout 30000 "$@"
