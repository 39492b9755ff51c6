/**
 * `multus cert-approver`: the controller that approves the daemons' per-node certificate
 * requests (Go Multus cmd/cert-approver). It watches every CertificateSigningRequest and
 * looks at those of signer kubernetes.io/kube-apiserver-client whose CN begins with
 * `system:multus`; each one still pending is approved when it passes Go's checks, in Go's
 * order, and denied otherwise (reviewCsr). Anything else is left to other approvers.
 * Approval and denial both go through the /approval subresource (Go denies with a plain
 * update, which the API server ignores for status, so its denials never stick). Each decision
 * is also an event about the CSR, as Go records it (component cert-approver).
 */
import { type KubeHttp, type KubeLogger, createKubeHttp } from "./client.ts";
import { type InClusterConfig, loadKubeTarget } from "./kubeconfig.ts";
import { parseCsrPem } from "./csr.ts";
import { backoffDelay, describeKubeError } from "./errors.ts";
import { createEventRecorder, type EventRecorder } from "./events.ts";
import { createInformer } from "./informers.ts";
import {
  CERT_COMMON_NAME_PREFIX,
  CERT_ORGANIZATION,
  CERT_USAGES,
  KUBE_APISERVER_CLIENT_SIGNER,
} from "./node-certificate.ts";

const CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
/** Go's limits: at most a year; requests from these user prefixes and groups only. */
const MAX_EXPIRATION_SECONDS = 365 * 24 * 3600;
const USER_PREFIXES = new Set(["system:node", CERT_COMMON_NAME_PREFIX]);
const GROUPS = new Set(["system:nodes", "system:multus", "system:authenticated"]);
const MAX_RETRIES = 5;
const CONTROLLER_NAME = "csr-approver";

export interface CsrObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; resourceVersion?: string; [k: string]: unknown };
  spec?: {
    request?: string;
    signerName?: string;
    username?: string;
    groups?: string[];
    usages?: string[];
    expirationSeconds?: number;
  };
  status?: { certificate?: string; conditions?: Array<{ type?: string; status?: string }> };
}

export type Review =
  | { action: "ignore"; why: string }
  | { action: "approve"; node: string }
  | { action: "deny"; node: string; message: string };

/** Go's filterCSR and processItem: which requests are ours, and approve or deny with Go's messages. */
export function reviewCsr(csr: CsrObject): Review {
  const name = csr.metadata.name;
  let subject: { commonName: string; organizations: string[] };
  try {
    subject = parseCsrPem(Buffer.from(csr.spec?.request ?? "", "base64").toString("utf8"));
  } catch (err) {
    return { action: "ignore", why: `failed to parse the CSR .spec.request of "${name}": ${(err as Error).message}` };
  }
  if (!subject.commonName.startsWith(CERT_COMMON_NAME_PREFIX) || csr.spec?.signerName !== KUBE_APISERVER_CLIENT_SIGNER)
    return { action: "ignore", why: "not a multus per-node certificate request" };
  if (csr.status?.certificate) return { action: "ignore", why: `CSR ${name} is already signed` };
  if (csr.status?.conditions?.some((c) => c.type === "Approved" || c.type === "Denied"))
    return { action: "ignore", why: `CSR ${name} is already approved/denied` };

  const username = csr.spec.username ?? "";
  const i = username.lastIndexOf(":");
  if (i === -1 || i === username.length - 1)
    return { action: "ignore", why: `failed to parse the username: ${username}` };
  const prefix = username.slice(0, i);
  const node = username.slice(i + 1);
  const deny = (message: string): Review => ({ action: "deny", node, message });
  if (!USER_PREFIXES.has(prefix)) return deny(`CSR "${name}" was created by an unexpected user: "${username}"`);
  if (!isDnsSubdomain(node)) return deny(`extracted node name "${node}" is not a valid DNS subdomain`);
  const usages = new Set(csr.spec.usages ?? []);
  if (usages.size !== CERT_USAGES.length || !CERT_USAGES.every((u) => usages.has(u)))
    return deny(`CSR "${name}" was created with unexpected usages: [${[...usages].join(" ")}]`);
  const groups = csr.spec.groups ?? [];
  if (!groups.every((g) => GROUPS.has(g)))
    return deny(`CSR "${name}" was created by a user with unexpected groups: [${groups.join(" ")}]`);
  const expected = `${CERT_COMMON_NAME_PREFIX}:${node}`;
  if (subject.commonName !== expected)
    return deny(`expected the CSR's commonName to be "${expected}", but it is "${subject.commonName}"`);
  if (subject.organizations.length !== 1 || subject.organizations[0] !== CERT_ORGANIZATION)
    return deny(
      `expected the CSR's organization to be [${CERT_ORGANIZATION}], but it is [${subject.organizations.join(" ")}]`,
    );
  const exp = csr.spec.expirationSeconds;
  if (exp === undefined) return deny(`CSR "${name}" was created without specyfying the expirationSeconds`);
  if (exp > MAX_EXPIRATION_SECONDS)
    return deny(`CSR "${name}" was created with invalid expirationSeconds value: ${exp}`);
  return { action: "approve", node };
}

/** RFC 1123 subdomain, as Kubernetes validates node names: at most 253 characters. */
function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(s);
}

export interface CertApprover {
  /** Resolves once the first list is done (false when `timeoutMs` passed first). */
  waitForSync(timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

export interface CertApproverOptions {
  kubeconfigPath?: string;
  inCluster?: InClusterConfig;
  logger: KubeLogger;
}

export async function startCertApprover(opts: CertApproverOptions): Promise<CertApprover> {
  const http = createKubeHttp(await loadKubeTarget(opts));
  const log = opts.logger;
  // key -> the latest copy seen (during the first list the informer's cache is not filled yet)
  const queue = new Map<string, CsrObject>();
  const attempts = new Map<string, number>();
  const stopped = new AbortController();
  let busy = false;
  // Go's recorder: component cert-approver; a CSR is cluster-scoped, its events go to "default"
  const recorder = createEventRecorder({ http, logger: log, component: "cert-approver" });

  const informer = createInformer<CsrObject>({
    name: "certificatesigningrequests",
    http,
    logger: log,
    backoff: { initialMs: 200, maxMs: 30_000 },
    path: CSR_PATH,
    toItem: (obj) => obj as CsrObject,
    onItem(key, csr) {
      queue.set(key, csr);
      void drain();
    },
  });

  async function drain(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      for (const [key, csr] of queue) {
        queue.delete(key);
        if (stopped.signal.aborted) return;
        await process(csr);
      }
    } finally {
      busy = false;
    }
  }

  async function process(csr: CsrObject): Promise<void> {
    const started = performance.now();
    const review = reviewCsr(csr);
    if (review.action === "ignore") {
      log.debug(`cert-approver: ${review.why}`);
      return;
    }
    try {
      await decide(http, csr, review);
      attempts.delete(csr.metadata.name);
      recordDecision(recorder, csr, review);
      log.verbose(
        `cert-approver: ${review.action === "approve" ? "approved" : `denied (${review.message})`} CSR ${csr.metadata.name} ` +
          `for ${review.node} node in ${Math.round(performance.now() - started)} ms`,
      );
    } catch (err) {
      // Go requeues up to 5 times, rate limited; the informer's next copy is the one retried.
      const n = (attempts.get(csr.metadata.name) ?? 0) + 1;
      attempts.set(csr.metadata.name, n);
      if (n > MAX_RETRIES) {
        attempts.delete(csr.metadata.name);
        log.error(`cert-approver: dropping CSR ${csr.metadata.name} out of the queue: ${describeKubeError(err)}`);
        return;
      }
      log.error(`cert-approver: error syncing CSR ${csr.metadata.name}: ${describeKubeError(err)}`);
      const timer = setTimeout(
        () => {
          const latest = informer.get(csr.metadata.name);
          if (latest && !queue.has(csr.metadata.name)) queue.set(csr.metadata.name, latest);
          void drain();
        },
        backoffDelay(n, { initialMs: 500, maxMs: 10_000 }),
      );
      stopped.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
    }
  }

  informer.start();
  return {
    waitForSync: (ms) => informer.waitForSync(ms),
    async stop() {
      stopped.abort();
      await Promise.all([informer.stop(), recorder.stop(2_000)]);
      http.close();
    },
  };
}

/** Go's events: CSRApproved (Normal) and CSRDenied (Warning), about the CSR. */
function recordDecision(
  recorder: EventRecorder,
  csr: CsrObject,
  review: Review & { action: "approve" | "deny" },
): void {
  const name = csr.metadata.name;
  recorder.record(
    {
      namespace: "default",
      name,
      ...(typeof csr.metadata.uid === "string" && { uid: csr.metadata.uid }),
      kind: "CertificateSigningRequest",
      apiVersion: "certificates.k8s.io/v1",
      clusterScoped: true,
    },
    review.action === "approve"
      ? { type: "Normal", reason: "CSRApproved", message: `CSR "${name}" has been approved by ${CONTROLLER_NAME}` }
      : {
          type: "Warning",
          reason: "CSRDenied",
          message: `The CSR "${name}" has been denied by: ${CONTROLLER_NAME}: ${review.message}`,
        },
  );
}

/** The condition Go writes, through /approval. */
async function decide(http: KubeHttp, csr: CsrObject, review: Review & { action: "approve" | "deny" }): Promise<void> {
  const name = csr.metadata.name;
  const condition =
    review.action === "approve"
      ? { type: "Approved", status: "True", reason: "AutoApproved", message: `Auto-approved CSR "${name}"` }
      : { type: "Denied", status: "True", reason: "CSRDenied", message: review.message };
  await http.call(
    {
      method: "PUT",
      path: `${CSR_PATH}/${encodeURIComponent(name)}/approval`,
      body: {
        ...csr,
        apiVersion: "certificates.k8s.io/v1",
        kind: "CertificateSigningRequest",
        status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), condition] },
      },
    },
    { timeoutMs: 30_000 },
  );
}
