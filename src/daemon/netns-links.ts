// Which interface names already exist in a network namespace, asked in-process:
// the JS thread enters the netns (setns), asks the kernel with if_nametoindex,
// and returns, all in one synchronous stretch so no other JS (and so no socket
// of the daemon's) runs meanwhile. A spawned `nsenter ip link` would cost a few
// ms on every ADD. setns(2) affects the calling thread only.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { closeSync, openSync } from "node:fs";

const CLONE_NEWNET = 0x40000000;

/** undefined: not loaded yet; null: this system has no glibc to ask (the check is skipped). */
let libc: ReturnType<typeof open> | null | undefined;
function open() {
  return dlopen("libc.so.6", {
    setns: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    if_nametoindex: { args: [FFIType.ptr], returns: FFIType.u32 },
  });
}

/**
 * The names among `names` that exist in the netns at `path`. Throws when the
 * netns cannot be entered; exits the process when it cannot return to its own
 * (it would otherwise serve every later request from the pod's netns).
 */
export function existingLinks(path: string, names: readonly string[]): string[] {
  if (libc === undefined) {
    try {
      libc = open();
    } catch (err) {
      // An optional pre-check must not fail every ADD: without it a taken name fails in the delegate.
      process.stderr.write(`multus: interface-name pre-check off, cannot load libc: ${(err as Error).message}\n`);
      libc = null;
    }
  }
  if (libc === null) return [];
  const own = openSync("/proc/thread-self/ns/net", "r");
  const target = openSync(path, "r");
  try {
    if (libc.symbols.setns(target, CLONE_NEWNET) !== 0) throw new Error(`setns into ${path} failed`);
    try {
      return names.filter((n) => libc!.symbols.if_nametoindex(ptr(Buffer.from(`${n}\0`))) !== 0);
    } finally {
      if (libc.symbols.setns(own, CLONE_NEWNET) !== 0) {
        process.stderr.write("multus: cannot return to the daemon's own netns after a pre-check; exiting\n");
        process.exit(70);
      }
    }
  } finally {
    closeSync(target);
    closeSync(own);
  }
}
