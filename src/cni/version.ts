// CNI spec versions: parse, compare, and reconcile a config's version against
// what a plugin supports (containernetworking/cni pkg/version).

import { CniError, ErrorCode, quoteInput } from "./errors.ts";
import { SUPPORTED_VERSIONS } from "./spec.ts";

/** libcni's reading of a config without `cniVersion`. */
export const DEFAULT_CONFIG_VERSION = "0.1.0";

/**
 * "1.0.0" -> [1, 0, 0]. Stricter than Go's ParseVersion (which takes "1.0" and
 * "" too): every version the spec ever published has three parts, so anything
 * else is a typo we would rather report than guess at.
 */
export function parseVersion(v: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  if (!m) throw new CniError(ErrorCode.IncompatibleVersion, `invalid CNI version ${quoteInput(v)}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Negative, zero or positive as `a` is older than, equal to or newer than `b`. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export function versionAtLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

export function isSupportedVersion(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** The result shape a version uses: 0.1/0.2 (`ip4`/`ip6`), 0.3/0.4 (`ips` with `version`), 1.x. */
export type ResultGeneration = "0.2" | "0.4" | "1.x";

/** Which result shape `v` uses; code 1 for a version we do not know. */
export function resultGeneration(v: string): ResultGeneration {
  switch (v) {
    case "0.1.0":
    case "0.2.0":
      return "0.2";
    case "0.3.0":
    case "0.3.1":
    case "0.4.0":
      return "0.4";
    case "1.0.0":
    case "1.1.0":
      return "1.x";
  }
  throw new CniError(ErrorCode.IncompatibleVersion, `unsupported CNI version ${quoteInput(v)}`);
}

/**
 * The config's `cniVersion`; missing, null or empty means 0.1.0 as in libcni's
 * ConfigDecoder. A non-string is undecodable (code 6), as Go's json would say.
 */
export function configVersion(raw: Record<string, unknown>): string {
  const v = raw.cniVersion;
  if (v === undefined || v === null || v === "") return DEFAULT_CONFIG_VERSION;
  if (typeof v !== "string") {
    throw new CniError(
      ErrorCode.DecodeFailure,
      "failed to decode network configuration",
      `field "cniVersion": expected string, got ${quoteInput(v)}`,
    );
  }
  return v;
}

/**
 * Exact membership, like Go's Reconciler.CheckRaw; the details use Go's `%q`
 * rendering so runtimes see the same text from us as from a Go plugin.
 */
export function reconcileVersion(configVersion: string, supported: readonly string[] = SUPPORTED_VERSIONS): void {
  if (supported.includes(configVersion)) return;
  const list = supported.map((s) => JSON.stringify(s)).join(" ");
  throw new CniError(
    ErrorCode.IncompatibleVersion,
    "incompatible CNI versions",
    `config is ${quoteInput(configVersion)}, plugin supports [${list}]`,
  );
}
