// `multus cert-approver`: approves the per-node certificate requests of the daemons
// (perNodeCertificate), as Go Multus's cert-approver does. In a pod it uses the
// service account (Go: in-cluster only); --kubeconfig runs it from elsewhere.
// Runs until SIGTERM or SIGINT, then exits 0; exit 3 when it cannot reach the API.
import { defineCommand } from "citty";

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export const certApproverCommand = defineCommand({
  meta: {
    name: "cert-approver",
    description: "Approve the daemons' per-node client certificate requests (CN system:multus:<node>)",
  },
  args: {
    kubeconfig: { type: "string", description: "kubeconfig (default: the pod's service account)" },
    "log-level": { type: "string", description: "panic, error, verbose or debug", default: "verbose" },
  },
  async run({ args }) {
    const [{ createLogger }, { startCertApprover }] = await Promise.all([
      import("../util/log.ts"),
      import("../k8s/cert-approver.ts"),
    ]);
    const log = createLogger({ level: args["log-level"], toStderr: true });
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT;
    const inCluster =
      !args.kubeconfig && host && port
        ? { host, port, tokenFile: `${SERVICE_ACCOUNT_DIR}/token`, caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt` }
        : undefined;
    if (!args.kubeconfig && !inCluster) {
      process.stderr.write("multus cert-approver: no --kubeconfig and no in-cluster environment\n");
      return 3;
    }
    let approver: Awaited<ReturnType<typeof startCertApprover>>;
    try {
      approver = await startCertApprover({ kubeconfigPath: args.kubeconfig, inCluster, logger: log });
    } catch (err) {
      process.stderr.write(`multus cert-approver: ${(err as Error).message}\n`);
      return 3;
    }
    log.verbose("cert-approver: starting");
    const stop = new Promise<string>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    void approver.waitForSync(60_000).then((synced) => {
      if (synced) log.verbose("cert-approver: synced and ready");
    });
    const signal = await stop;
    log.verbose(`cert-approver: ${signal}, stopping`);
    await approver.stop();
    return 0;
  },
});
