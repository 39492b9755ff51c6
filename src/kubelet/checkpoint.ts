// The kubelet device manager's checkpoint file, read when the
// PodResources socket is absent: JSON `Data.PodDeviceEntries[]`, one entry per
// (pod, container, resource) with `DeviceIDs` as a map NUMA node -> IDs (older
// kubelets wrote a plain list). Only the fields Multus uses are checked; the
// checksum is not (the Go Multus does not verify it either).
import { readFile } from "node:fs/promises";
import * as v from "valibot";

export const DEFAULT_CHECKPOINT_FILE = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint";

/**
 * `schema` refusing an array, which valibot's object and record schemas take as keys "0",
 * "1", ...: Go's decoder fails on an array where a struct or map goes, so the file is corrupt.
 */
function notArray<S extends v.GenericSchema<unknown, Record<string, unknown>>>(schema: S) {
  return v.pipe(
    v.custom<unknown>((x) => !Array.isArray(x), "expected an object, got an array"),
    schema,
  );
}

const EntrySchema = v.looseObject({
  PodUID: v.string(),
  ContainerName: v.optional(v.nullable(v.string())),
  ResourceName: v.string(),
  DeviceIDs: v.optional(
    v.nullable(v.union([notArray(v.record(v.string(), v.nullable(v.array(v.string())))), v.array(v.string())])),
  ),
});
export const CheckpointSchema = v.looseObject({
  Data: notArray(
    v.looseObject({
      PodDeviceEntries: v.optional(v.nullable(v.array(EntrySchema))),
    }),
  ),
});

export interface CheckpointEntry {
  podUid: string;
  containerName: string;
  resourceName: string;
  /** Every ID of the entry once, NUMA nodes flattened in node order. */
  deviceIds: string[];
}

export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
}

/** The entries of a checkpoint file's text, in file order. */
export function parseCheckpoint(text: string, source = "kubelet checkpoint"): CheckpointEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`cannot decode ${source}: ${(err as Error).message}`);
  }
  const parsed = v.safeParse(CheckpointSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    throw new CheckpointError(`invalid ${source}: ${path ? `field "${path}": ` : ""}${issue.message}`);
  }
  return (parsed.output.Data.PodDeviceEntries ?? []).map((e) => ({
    podUid: e.PodUID,
    containerName: e.ContainerName ?? "",
    resourceName: e.ResourceName,
    deviceIds: flattenDeviceIds(e.DeviceIDs),
  }));
}

/** NUMA map -> one list (nodes in numeric order, a device on two nodes once); a list stays as is. */
function flattenDeviceIds(ids: Record<string, string[] | null> | string[] | null | undefined): string[] {
  if (!ids) return [];
  if (Array.isArray(ids)) return [...new Set(ids)];
  const nodes = Object.keys(ids).sort((a, b) => Number(a) - Number(b));
  return [...new Set(nodes.flatMap((n) => ids[n] ?? []))];
}

export async function readCheckpoint(path: string): Promise<CheckpointEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CheckpointError(`cannot read kubelet checkpoint ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseCheckpoint(text, `kubelet checkpoint ${path}`);
}
