#!/usr/bin/env bash
# Installs what a fresh Debian machine with Node and npm lacks: Debian's CNI
# plugins and tools the tests and the demo use, the npm packages (bun among
# them), then builds dist/multus. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
command -v openssl >/dev/null || need+=(openssl)
command -v mount >/dev/null || need+=(mount)
# Real container runtimes for tests/e2e/containerd.test.ts (CRI drives our shim) and podman.test.ts.
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
command -v podman >/dev/null || need+=(podman)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)   # the sandbox image's rootfs
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci again whenever package-lock.json changed since the last install.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/bun ] || [ "$(cat node_modules/.multus-lock-sum 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_sum" > node_modules/.multus-lock-sum
fi
# npm may skip bun's postinstall (install scripts not allowed): repair it.
if ! node_modules/.bin/bun --version >/dev/null 2>&1; then
  node node_modules/bun/install.js >/dev/null
fi

node_modules/.bin/bun run build.ts
