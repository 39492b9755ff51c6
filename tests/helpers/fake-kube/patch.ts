// PATCH bodies: JSON merge patch (strategic merge treated as merge, its directives ignored)
// and JSON patch (RFC 6902), applied to a copy of the stored object.
import { clone, HttpError } from "./status.ts";

/** The patched document for `contentType`; 415 for a media type the API server does not accept. */
export function applyPatch(old: unknown, { contentType, body }: { contentType: string; body: unknown }): unknown {
  if (contentType === "application/merge-patch+json" || contentType === "application/strategic-merge-patch+json")
    return mergePatch(clone(old), body);
  if (contentType === "application/json-patch+json") return jsonPatch(old, body);
  throw new HttpError(
    415,
    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json",
  );
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (k === "$patch" || k.startsWith("$setElementOrder/") || k.startsWith("$deleteFromPrimitiveList/")) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface JsonPatchOp {
  op?: string;
  path?: string;
  from?: string;
  value?: unknown;
}

export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new HttpError(400, "JSON patch must be an array");
  const target = new PatchTarget(clone(doc));
  for (const raw of ops) applyOp(target, raw as JsonPatchOp);
  return target.root;
}

function applyOp(t: PatchTarget, op: JsonPatchOp): void {
  const path = op.path ?? "";
  switch (op.op) {
    case "add":
      t.add(path, op.value);
      break;
    case "remove":
      t.remove(path);
      break;
    case "replace":
      t.read(path);
      if (path === "") t.root = clone(op.value);
      else {
        t.remove(path);
        t.add(path, op.value);
      }
      break;
    case "move": {
      const v = t.read(op.from ?? "");
      t.remove(op.from ?? "");
      t.add(path, v);
      break;
    }
    case "copy":
      t.add(path, t.read(op.from ?? ""));
      break;
    case "test":
      if (JSON.stringify(t.read(path)) !== JSON.stringify(op.value))
        throw new HttpError(422, `test operation failed at ${path}`);
      break;
    default:
      throw new HttpError(400, `unknown JSON patch op ${String(op.op)}`);
  }
}

/** The document a JSON patch works on, addressed by JSON pointers. */
class PatchTarget {
  constructor(public root: unknown) {}

  read(path: string): unknown {
    let cur: unknown = this.root;
    for (const p of pointerParts(path)) {
      if (cur === null || typeof cur !== "object" || !(p in (cur as object)))
        throw new HttpError(422, `path ${path} not found`);
      cur = (cur as Record<string, unknown>)[p];
    }
    return cur;
  }

  add(path: string, value: unknown): void {
    if (path === "") {
      this.root = clone(value);
      return;
    }
    const [parent, key] = this.parentOf(path);
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new HttpError(422, `bad index in ${path}`);
      parent.splice(i, 0, clone(value));
    } else parent[key] = clone(value);
  }

  remove(path: string): void {
    const [parent, key] = this.parentOf(path);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= parent.length) throw new HttpError(422, `bad index in ${path}`);
      parent.splice(i, 1);
    } else {
      if (!(key in parent)) throw new HttpError(422, `path ${path} not found`);
      delete parent[key];
    }
  }

  private parentOf(path: string): [Record<string, unknown> | unknown[], string] {
    const parts = pointerParts(path);
    const last = parts.pop();
    if (last === undefined) throw new HttpError(422, "cannot address the document root");
    let cur: unknown = this.root;
    for (const p of parts) {
      if (cur === null || typeof cur !== "object") throw new HttpError(422, `path ${path} not found`);
      cur = (cur as Record<string, unknown>)[p];
    }
    if (cur === null || typeof cur !== "object") throw new HttpError(422, `path ${path} not found`);
    return [cur as Record<string, unknown> | unknown[], last];
  }
}

function pointerParts(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new HttpError(422, `invalid JSON pointer ${pointer}`);
  return pointer
    .slice(1)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
}
