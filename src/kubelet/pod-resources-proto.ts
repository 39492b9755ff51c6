// The PodResources List reply decoded by hand from the field numbers in
// podresources-v1.proto: a compiled binary carries no .proto file for a loader.
// Unknown fields (CPU IDs, memory, topology) are skipped.
import { PodResourcesError } from "./pod-resources-error.ts";

export interface ContainerDevices {
  resourceName: string;
  deviceIds: string[];
}
/** One DRA claim's allocation to a container (DynamicResource). */
export interface DynamicResource {
  /** Sent by kubelets before 1.31 only. */
  className: string;
  claimName: string;
  claimNamespace: string;
  /** The CDI device names of every ClaimResource, in order ("vendor.com/class=name"). */
  cdiDevices: string[];
}
export interface ContainerResources {
  name: string;
  devices: ContainerDevices[];
  dynamicResources: DynamicResource[];
}
export interface PodResources {
  name: string;
  namespace: string;
  containers: ContainerResources[];
}

// Protocol buffers wire format, just enough for ListPodResourcesResponse.
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads the (field, wire type, value) records of one message; unknown fields are skipped. */
function* fields(buf: Uint8Array): Generator<{ field: number; bytes?: Uint8Array }> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new PodResourcesError("malformed PodResources reply: truncated varint");
      const b = buf[pos++]!;
      // Values above 2^53 lose precision, and only field keys and lengths are used: they are small.
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new PodResourcesError("malformed PodResources reply: varint too long");
    }
  };
  const skip = (n: number) => {
    if (pos + n > buf.length) throw new PodResourcesError("malformed PodResources reply: truncated field");
    pos += n;
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === WIRE_LEN) {
      const len = varint();
      const start = pos;
      skip(len);
      yield { field, bytes: buf.subarray(start, start + len) };
    } else if (wire === WIRE_VARINT) {
      varint();
    } else if (wire === WIRE_FIXED64) {
      skip(8);
    } else if (wire === WIRE_FIXED32) {
      skip(4);
    } else {
      throw new PodResourcesError(`malformed PodResources reply: unsupported wire type ${wire}`);
    }
  }
}

function text(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new PodResourcesError("malformed PodResources reply: a string is not UTF-8");
  }
}

/** ListPodResourcesResponse { repeated PodResources pod_resources = 1; } */
export function decodeListPodResourcesResponse(buf: Uint8Array): PodResources[] {
  const pods: PodResources[] = [];
  for (const f of fields(buf)) if (f.field === 1 && f.bytes) pods.push(decodePod(f.bytes));
  return pods;
}

/** PodResources { name = 1; namespace = 2; repeated ContainerResources containers = 3; } */
function decodePod(buf: Uint8Array): PodResources {
  const pod: PodResources = { name: "", namespace: "", containers: [] };
  for (const f of fields(buf)) {
    if (!f.bytes) continue;
    if (f.field === 1) pod.name = text(f.bytes);
    else if (f.field === 2) pod.namespace = text(f.bytes);
    else if (f.field === 3) pod.containers.push(decodeContainer(f.bytes));
  }
  return pod;
}

/** ContainerResources { name = 1; repeated ContainerDevices devices = 2; ...; repeated DynamicResource dynamic_resources = 5; } */
function decodeContainer(buf: Uint8Array): ContainerResources {
  const c: ContainerResources = { name: "", devices: [], dynamicResources: [] };
  for (const f of fields(buf)) {
    if (!f.bytes) continue;
    if (f.field === 1) c.name = text(f.bytes);
    else if (f.field === 2) c.devices.push(decodeDevices(f.bytes));
    else if (f.field === 5) c.dynamicResources.push(decodeDynamicResource(f.bytes));
  }
  return c;
}

/** DynamicResource { class_name = 1; claim_name = 2; claim_namespace = 3; repeated ClaimResource claim_resources = 4; } */
function decodeDynamicResource(buf: Uint8Array): DynamicResource {
  const r: DynamicResource = { className: "", claimName: "", claimNamespace: "", cdiDevices: [] };
  for (const f of fields(buf)) {
    if (!f.bytes) continue;
    if (f.field === 1) r.className = text(f.bytes);
    else if (f.field === 2) r.claimName = text(f.bytes);
    else if (f.field === 3) r.claimNamespace = text(f.bytes);
    else if (f.field === 4) r.cdiDevices.push(...decodeClaimResource(f.bytes));
  }
  return r;
}

/** ClaimResource { repeated CDIDevice cdi_devices = 1; driver_name = 2; pool_name = 3; device_name = 4; }: the CDI names. */
function decodeClaimResource(buf: Uint8Array): string[] {
  const names: string[] = [];
  for (const f of fields(buf)) {
    if (f.field !== 1 || !f.bytes) continue;
    // CDIDevice { name = 1; }
    for (const g of fields(f.bytes)) if (g.field === 1 && g.bytes) names.push(text(g.bytes));
  }
  return names;
}

/** ContainerDevices { resource_name = 1; repeated string device_ids = 2; TopologyInfo topology = 3; } */
function decodeDevices(buf: Uint8Array): ContainerDevices {
  const d: ContainerDevices = { resourceName: "", deviceIds: [] };
  for (const f of fields(buf)) {
    if (!f.bytes) continue;
    if (f.field === 1) d.resourceName = text(f.bytes);
    else if (f.field === 2) d.deviceIds.push(text(f.bytes));
  }
  return d;
}
