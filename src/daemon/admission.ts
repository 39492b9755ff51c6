// Bounded concurrency for CNI requests with a priority queue: when every slot
// is taken, waiting requests are admitted DEL first (it frees resources and
// must not starve behind ADDs), then CHECK/GC/STATUS, then ADD; FIFO within a
// class. A request that waits past its deadline is refused so the runtime can
// retry instead of hanging (see docs/configuration.md, connectionLimit).

import { availableParallelism } from "node:os";
import { isCniCommand } from "../cni/spec.ts";

export type Priority = 0 | 1 | 2;

/** DEL before CHECK/GC/STATUS before ADD (and anything unknown). */
export function priorityOf(command: string | undefined): Priority {
  if (command === "DEL") return 0;
  if (command === "CHECK" || command === "GC" || command === "STATUS") return 1;
  return 2;
}

/**
 * connectionLimit when the config sets none: delegates are mostly waiting on
 * processes and netlink, so a few per core keep the node busy without letting
 * a burst of hundreds of pods exhaust the daemon's memory (docs/configuration.md).
 */
export function defaultConnectionLimit(cores: number = availableParallelism()): number {
  return Math.max(16, 4 * cores);
}

export class QueueDeadlineError extends Error {
  override name = "QueueDeadlineError";
}

interface Waiter {
  priority: Priority;
  /** A CNI command, or "other" (the body is the client's: its value must not become a label). */
  command: string;
  seq: number;
  admit(): void;
}

export interface AdmissionOptions {
  /** Maximum requests served at once. */
  limit: number;
  /** Longest a request may wait for a slot, in milliseconds. */
  deadlineMs: number;
}

export class Admission {
  #active = 0;
  #seq = 0;
  #waiting: Waiter[] = [];
  constructor(private readonly opts: AdmissionOptions) {}

  get active(): number {
    return this.#active;
  }
  get waiting(): number {
    return this.#waiting.length;
  }
  get limit(): number {
    return this.opts.limit;
  }
  get deadlineMs(): number {
    return this.opts.deadlineMs;
  }
  /** Waiting requests by CNI command ("other" for a body without a known one): the queue-depth gauge. */
  waitingByCommand(): Map<string, number> {
    const out = new Map<string, number>();
    for (const w of this.#waiting) out.set(w.command, (out.get(w.command) ?? 0) + 1);
    return out;
  }

  /** Resolves with a release function once a slot is free; rejects with QueueDeadlineError past the deadline. */
  acquire(command: string | undefined): Promise<() => void> {
    if (this.#active < this.opts.limit && this.#waiting.length === 0) return Promise.resolve(this.#take());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        priority: priorityOf(command),
        command: command && isCniCommand(command) ? command : "other",
        seq: this.#seq++,
        admit: () => {
          clearTimeout(timer);
          resolve(this.#take());
        },
      };
      const timer = setTimeout(() => {
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        reject(new QueueDeadlineError(`waited ${this.opts.deadlineMs} ms for a free slot`));
      }, this.opts.deadlineMs);
      this.#insert(waiter);
    });
  }

  #insert(waiter: Waiter): void {
    // Stable by (priority, arrival): the first waiter of a lower class goes after it.
    const at = this.#waiting.findIndex((w) => w.priority > waiter.priority);
    if (at < 0) this.#waiting.push(waiter);
    else this.#waiting.splice(at, 0, waiter);
  }

  #take(): () => void {
    this.#active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      if (this.#active < this.opts.limit) this.#waiting.shift()?.admit();
    };
  }
}
