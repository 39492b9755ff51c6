// What the Kubernetes client tells an observer (the daemon's metrics) about
// each API request, and how a request is named for it: Kubernetes' verb and
// resource, as the API server's own metrics name them, so the two line up.

/** One request to the API server: one attempt (a retried call is two), timed until its answer's headers. */
export interface KubeRequestEvent {
  /** get, list, watch, create, update, patch, delete. */
  verb: string;
  /** e.g. pods, pods/status, events, network-attachment-definitions. */
  resource: string;
  /** The HTTP status, or "<error>" when no answer came (client-go's value). */
  code: string;
  seconds: number;
}

export interface KubeObserver {
  request(event: KubeRequestEvent): void;
}

const VERBS: Record<string, string> = { POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete" };

/**
 * Verb and resource of a request by its method, path and query:
 * `/api/v1/namespaces/ns/pods/name/status` is `pods/status`; a GET of a
 * collection is `list`, or `watch` with `watch=true`.
 */
export function requestLabels(req: { method: string; path: string; query?: Record<string, string | undefined> }): {
  verb: string;
  resource: string;
} {
  const segments = req.path.split("/").filter(Boolean);
  // /api/<version>/... or /apis/<group>/<version>/...
  let rest = segments.slice(segments[0] === "apis" ? 3 : 2);
  if (rest[0] === "namespaces" && rest.length >= 3) rest = rest.slice(2);
  const [resource = "other", name, subresource] = rest;
  const verb =
    req.method === "GET" ? (name ? "get" : req.query?.watch === "true" ? "watch" : "list") : VERBS[req.method];
  return { verb: verb ?? req.method.toLowerCase(), resource: subresource ? `${resource}/${subresource}` : resource };
}
