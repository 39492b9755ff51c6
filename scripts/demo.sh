#!/usr/bin/env bash
# The demo: what Multus is deployed for, on one machine, as root.
#
# A local Kubernetes API stand-in (scripts/fake-kube.ts, the fake API server the
# tests use) holds two NetworkAttachmentDefinitions (a macvlan and a bridge
# network) and a pod whose k8s.v1.cni.cncf.io/networks annotation asks for both,
# the macvlan one with a static IP and its own interface name. The daemon runs
# against it as the DaemonSet runs it (auto mode: it writes 00-multus.conf from
# the cluster network's conflist); the shim is called as a container runtime
# calls it (CNI env, 00-multus.conf on stdin) for ADD, CHECK, then DEL. It
# prints what `multus validate` says the pod would get (offline, from the same
# files), the ADD result, the pod's network-status annotation, the interfaces
# in its netns and `multus status` of the running daemon, and shows that DEL
# and the clean-up remove everything that was made: interfaces, host-local
# leases, cache files, the netns, links, processes and files.
# On any failure or Ctrl-C the trap removes it all too.
#
# DEMO_PAUSE=1 waits for Enter before DEL, to look around (ip netns exec ...).
# DEMO_SKIP_SETUP=1 skips scripts/setup.sh (the tests, which build dist/multus first).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${DEMO_SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh >/dev/null

id=$$
dir=$(mktemp -d /tmp/multus-demo.XXXXXX)
ns="multus-demo-$id"
parent="mdemo${id}a"
peer="mdemo${id}b"
bridge="mdemo${id}c"
bridge2="mdemo${id}n"
node="demo-node"
bun=node_modules/.bin/bun
kube_pid=""
daemon_pid=""
say() { printf '\n\033[1mdemo: %s\033[0m\n' "$*"; }

cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$kube_pid" ] && kill "$kube_pid" 2>/dev/null && wait "$kube_pid" 2>/dev/null
  daemon_pid="" kube_pid=""
  ip netns del "$ns" 2>/dev/null
  for l in "$parent" "$bridge" "$bridge2"; do ip link del "$l" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || { echo "demo: timed out waiting for $what" >&2; return 1; }
    sleep 0.1
  done
}

echo "demo: work dir $dir, netns $ns, links $parent $bridge $bridge2"
mkdir -p "$dir/net.d" "$dir/bin" "$dir/run" "$dir/cache" "$dir/ipam" "$dir/manifests"
ln -s "$PWD/dist/multus" "$dir/bin/multus-shim"
uid=$(cat /proc/sys/kernel/random/uuid)

# The node's primary network, as a cluster's CNI would install it.
cat >"$dir/net.d/10-cluster.conflist" <<JSON
{ "cniVersion": "1.0.0", "name": "cluster", "plugins": [
  { "type": "bridge", "bridge": "$bridge", "isGateway": true,
    "ipam": { "type": "host-local", "dataDir": "$dir/ipam", "ranges": [[{ "subnet": "10.244.77.0/24" }]],
              "routes": [{ "dst": "0.0.0.0/0" }] } } ] }
JSON
cat >"$dir/manifests/nads.yaml" <<YAML
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: { name: macvlan-net, namespace: default }
spec:
  config: '{ "cniVersion": "1.0.0", "name": "macvlan-net", "type": "macvlan", "master": "$parent", "mode": "bridge",
             "capabilities": { "ips": true }, "ipam": { "type": "static" } }'
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: { name: bridge-net, namespace: default }
spec:
  config: '{ "cniVersion": "1.0.0", "name": "bridge-net", "type": "bridge", "bridge": "$bridge2",
             "ipam": { "type": "host-local", "dataDir": "$dir/ipam", "ranges": [[{ "subnet": "10.77.1.0/24" }]] } }'
YAML
cat >"$dir/manifests/pod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: demo
  namespace: default
  uid: $uid
  annotations:
    k8s.v1.cni.cncf.io/networks: |
      [ { "name": "macvlan-net", "interface": "data0", "ips": ["192.168.77.50/24"] },
        { "name": "bridge-net" } ]
spec:
  nodeName: $node
  containers: [{ name: app, image: registry.k8s.io/pause:3.9 }]
YAML
cat >"$dir/daemon-config.json" <<JSON
{ "cniVersion": "1.0.0", "logLevel": "verbose", "logToStderr": true,
  "cniConfigDir": "$dir/net.d", "multusAutoconfigDir": "$dir/net.d", "multusConfigFile": "auto",
  "socketDir": "$dir/run", "daemonSocketDir": "$dir/run", "cniDir": "$dir/cache", "binDir": "/usr/lib/cni",
  "kubeconfig": "$dir/kubeconfig" }
JSON

ip netns add "$ns"
ip link add "$parent" type veth peer name "$peer"
ip link set "$parent" up
ip link set "$peer" up

say "the Kubernetes API stand-in, with two NADs and the pod (scripts/fake-kube.ts)"
sed -n '/networks:/,/bridge-net" }/p' "$dir/manifests/pod.yaml"
$bun scripts/fake-kube.ts serve --kubeconfig "$dir/kubeconfig" "$dir/manifests/nads.yaml" "$dir/manifests/pod.yaml" &
kube_pid=$!
wait_for "the API stand-in's kubeconfig" 20 test -s "$dir/kubeconfig"

say "the daemon (dist/multus daemon -config=$dir/daemon-config.json, MULTUS_NODE_NAME=$node)"
MULTUS_NODE_NAME=$node dist/multus daemon -config="$dir/daemon-config.json" 2> >(sed -u 's/^/  daemon| /' >&2) &
daemon_pid=$!
wait_for "00-multus.conf" 20 test -s "$dir/net.d/00-multus.conf"

# As the runtime calls a CNI plugin: the env, and the first config of net.d (00-multus.conf) on stdin.
shim() {
  CNI_COMMAND=$1 CNI_CONTAINERID="demo$id" CNI_NETNS="/var/run/netns/$ns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=demo;K8S_POD_INFRA_CONTAINER_ID=demo$id;K8S_POD_UID=$uid" \
    "$dir/bin/multus-shim" <"$dir/net.d/00-multus.conf"
}
leases() { find "$dir/ipam" -type f -regex '.*/[0-9a-f.:]+$' | sed "s|$dir/ipam/||"; }
cached() { find "$dir/cache" -type f | sed "s|$dir/cache/||"; }

say "multus validate: what the pod would get, worked out offline from the same files"
dist/multus validate --pod "$dir/manifests/pod.yaml" --nad "$dir/manifests/nads.yaml" --config "$dir/daemon-config.json"

say "ADD: the shim, as the runtime runs it; its result"
shim ADD | $bun -e 'console.log(JSON.stringify(JSON.parse(await Bun.stdin.text()), null, 2))'

say "the pod's k8s.v1.cni.cncf.io/network-status annotation, read back from the API"
$bun scripts/fake-kube.ts get --kubeconfig "$dir/kubeconfig" pods default/demo \
  --annotation k8s.v1.cni.cncf.io/network-status

say "interfaces in the pod's netns ($ns)"
ip -n "$ns" -brief addr
ip -n "$ns" route
echo "host-local leases: $(leases | tr '\n' ' ')"
echo "cache files: $(cached | tr '\n' ' ')"

if [ "${DEMO_PAUSE:-}" = 1 ]; then
  say "paused: look around (ip netns exec $ns ip addr); press Enter to DEL"
  read -r _
fi

say "multus status: the running daemon's own account (GET /status on its socket)"
dist/multus status --socket-dir "$dir/run"

say "CHECK"
shim CHECK && echo "  ok"

say "DEL"
shim DEL && echo "  ok"
echo "interfaces in $ns: $(ip -n "$ns" -brief link | awk '{print $1}' | tr '\n' ' ')"
left_links=$(ip -n "$ns" -brief link | awk '$1 != "lo"' | wc -l)
left_leases=$(leases | wc -l)
left_cache=$(cached | wc -l)
echo "host-local leases left: $left_leases; cache files left: $left_cache"

say "clean-up: the daemon, the API stand-in, the netns, the links, $dir"
cleanup
trap - EXIT
left_ns=$(ip netns list | grep -c "^$ns\b" || true)
left_host=0
for l in "$parent" "$peer" "$bridge" "$bridge2"; do
  ! ip link show "$l" >/dev/null 2>&1 || left_host=$((left_host + 1))
done
left_dir=0
[ ! -e "$dir" ] || left_dir=1
echo "netns left: $left_ns; host links left: $left_host; work dir left: $left_dir"
if [ $((left_links + left_leases + left_cache + left_ns + left_host + left_dir)) -ne 0 ]; then
  echo "demo: FAILED: something was left behind" >&2
  exit 1
fi
echo "demo: everything it made is gone"
