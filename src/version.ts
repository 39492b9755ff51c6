// Build facts injected by build.ts (--define); "dev" when run from source.
declare const MULTUS_VERSION: string | undefined;
declare const MULTUS_COMMIT: string | undefined;
declare const MULTUS_BUILD_DATE: string | undefined;

export const VERSION = typeof MULTUS_VERSION === "string" ? MULTUS_VERSION : "dev";
export const COMMIT = typeof MULTUS_COMMIT === "string" ? MULTUS_COMMIT : "unknown";
export const BUILD_DATE = typeof MULTUS_BUILD_DATE === "string" ? MULTUS_BUILD_DATE : "unknown";

/** Same shape as the Go binaries print for -version. */
export function versionLine(program: string): string {
  return `${program}: version:${VERSION}, commit:${COMMIT}, date:${BUILD_DATE}`;
}
