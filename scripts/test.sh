#!/usr/bin/env bash
# The test command: set-up, build, then every test (unit and end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/.bin/bun test "$@"
