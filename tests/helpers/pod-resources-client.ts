// Entry point compiled by tests/kubelet/pod-resources.test.ts with the flags of
// build.ts, to show the gRPC client works inside a `bun build --compile` binary:
// argv: <socket> <namespace> <name>; prints the pod's devices as JSON.
import { createDevicePort } from "../../src/kubelet/devices.ts";

const [socket, namespace, name] = process.argv.slice(2);
const port = createDevicePort({ podResourcesSocket: socket, checkpointFile: "/nonexistent" });
const devices = await port.getPodDevices({ uid: "", namespace: namespace ?? "", name: name ?? "" });
process.stdout.write(`${JSON.stringify(Object.fromEntries(devices))}\n`);
