// RBAC grants as "group/resource:verb" strings ("core" for the core group), read
// from a ClusterRole or from the fake API's request log, so that the role in
// deployments/ can be compared with the calls the code really makes.
import { expect } from "bun:test";
import type { RequestLogEntry } from "./fake-kube/types.ts";

type Obj = Record<string, any>;

/** Every grant of a ClusterRole; rules with resourceNames or nonResourceURLs are not expected. */
export function grants(role: Obj): string[] {
  const out: string[] = [];
  for (const rule of role.rules as Obj[]) {
    expect(rule.nonResourceURLs).toBeUndefined();
    expect(rule.resourceNames).toBeUndefined();
    for (const group of rule.apiGroups)
      for (const resource of rule.resources)
        for (const verb of rule.verbs) {
          out.push(`${group === "" ? "core" : group}/${resource}:${verb}`);
        }
  }
  return out.sort();
}

const VERBS: Record<string, string> = {
  GET: "get",
  LIST: "list",
  WATCH: "watch",
  POST: "create",
  PUT: "update",
  PATCH: "patch",
  DELETE: "delete",
};

/**
 * The grant one logged request needs, from its path (group, plural, subresource)
 * and the fake API's verb; undefined for a non-resource URL (/version, which
 * every authenticated user may read through the default discovery roles).
 */
export function grantOf(entry: Pick<RequestLogEntry, "verb" | "path">): string | undefined {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(?:\/[^/]+(?:\/([^/]+))?)?$/.exec(
    entry.path,
  );
  if (!m) return undefined;
  const [, group, plural, sub] = m;
  const verb = VERBS[entry.verb] ?? entry.verb;
  return `${group ?? "core"}/${plural}${sub ? `/${sub}` : ""}:${verb}`;
}
