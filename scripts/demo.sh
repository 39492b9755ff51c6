#!/usr/bin/env bash
# The local demo: daemon + shim + real delegates in a real network namespace.
# Starts the daemon from a config in a temp dir, creates a netns, runs the
# shim for ADD (bridge + host-local cluster network, macvlan second network
# on a veth parent), prints the result, then CHECK and DEL, and removes
# everything it made. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

id=$$
dir=$(mktemp -d /tmp/multus-demo.XXXXXX)
ns="multus-demo-$id"
parent="mdemo${id}a"
peer="mdemo${id}b"
bridge="mdemo${id}br"
daemon_pid=""
cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  ip link del "$parent" 2>/dev/null
  ip link del "$bridge" 2>/dev/null
  rm -rf "$dir"
  echo "demo: cleaned up (netns $ns, veth $parent, bridge $bridge, $dir)"
}
trap cleanup EXIT

mkdir -p "$dir/net.d" "$dir/bin" "$dir/run" "$dir/cache" "$dir/ipam"
ln -s "$PWD/dist/multus" "$dir/bin/multus-shim"

cat > "$dir/net.d/10-cluster.conflist" <<JSON
{ "cniVersion": "1.0.0", "name": "cluster", "plugins": [
  { "type": "bridge", "bridge": "$bridge", "isGateway": true,
    "ipam": { "type": "host-local", "dataDir": "$dir/ipam", "ranges": [[{ "subnet": "10.244.77.0/24" }]],
              "routes": [{ "dst": "0.0.0.0/0" }] } } ] }
JSON
cat > "$dir/net.d/20-macvlan.conf" <<JSON
{ "cniVersion": "1.0.0", "name": "macvlan-net", "type": "macvlan", "master": "$parent", "mode": "bridge",
  "ipam": { "type": "host-local", "dataDir": "$dir/ipam", "ranges": [[{ "subnet": "192.168.77.0/24" }]] } }
JSON
cat > "$dir/daemon-config.json" <<JSON
{ "socketDir": "$dir/run", "cniDir": "$dir/cache", "binDir": "/usr/lib/cni", "confDir": "$dir/net.d",
  "clusterNetwork": "$dir/net.d/10-cluster.conflist", "defaultNetworks": ["macvlan-net"],
  "multusConfigFile": "", "logToStderr": true, "logLevel": "verbose" }
JSON

ip netns add "$ns"
ip link add "$parent" type veth peer name "$peer"
ip link set "$parent" up

echo "demo: starting the daemon (dist/multus daemon -config=$dir/daemon-config.json)"
dist/multus daemon -config="$dir/daemon-config.json" 2> >(sed 's/^/  daemon| /' >&2) &
daemon_pid=$!

shim() {
  CNI_COMMAND=$1 CNI_CONTAINERID=demo$id CNI_NETNS=/var/run/netns/$ns CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
  CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=demo" \
    "$dir/bin/multus-shim" <<JSON
{ "cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus-shim", "daemonSocketDir": "$dir/run" }
JSON
}

echo "demo: ADD"
shim ADD; echo
echo "demo: interfaces in $ns:"
ip -n "$ns" -brief addr
echo "demo: CHECK"; shim CHECK && echo "  ok"
echo "demo: DEL"; shim DEL && echo "  ok"
echo "demo: interfaces in $ns after DEL:"
ip -n "$ns" -brief addr
