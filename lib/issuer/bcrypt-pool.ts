import { timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import { DEFAULTS } from '../defaults';
import { HasherBusyError } from '../errors';
import type { BcryptTelemetry } from '../metrics/telemetry';
import { FairQueue } from './fair-queue';

/** Which candidate matched which hash. */
export interface SecretMatch {
  candidate: string;
  hash: string;
}

/**
 * Checks secret candidates against bcrypt hashes. One bcrypt run per candidate and distinct salt:
 * hashes sharing a salt (a rotation overlap hashes the new secret with the current one's salt) cost
 * one run together, so the cost depends on what the caller sent, never on the registry's state.
 */
export interface SecretHasher {
  /** The first candidate (in order) that matches one of the hashes, or null. `source` is who asked (for fair queueing). */
  match(candidates: string[], hashes: string[], source?: string): Promise<SecretMatch | null>;
  close(): Promise<void>;
}

export interface BcryptPoolOptions {
  /** Worker threads; 0 hashes on the main thread (bcryptjs async). Default: the number of cores. */
  workers?: number;
  /** Checks waiting beyond the running ones before new ones are refused (default 64). */
  maxQueue?: number;
  /** Checks one source (an address) may have waiting (default 8): a flood from some callers cannot starve others. */
  maxQueuePerSource?: number;
  /** Where each check's wait for a worker is reported; default nowhere. */
  telemetry?: BcryptTelemetry;
}

/** The salt of a bcrypt hash: "$2b$10$" and 22 characters. */
export const saltOf = (hash: string): string => hash.slice(0, 29);

/** Hashes grouped by salt, in first-seen order. */
function bySalt(hashes: string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const hash of hashes) groups.set(saltOf(hash), [...(groups.get(saltOf(hash)) ?? []), hash]);
  return groups;
}

const sameString = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

// The worker is plain JavaScript evaluated from a string so it runs the same from ts-jest and dist/.
// Same algorithm as matchInline below: one hashSync per candidate and salt.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { timingSafeEqual } = require('node:crypto');
const bcrypt = require(workerData.bcryptPath);
const same = (a, b) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
parentPort.on('message', ({ id, candidates, groups }) => {
  for (const candidate of candidates) {
    for (const [salt, hashes] of groups) {
      const computed = bcrypt.hashSync(candidate, salt);
      const hash = hashes.find((h) => same(h, computed));
      if (hash) return parentPort.postMessage({ id, match: { candidate, hash } });
    }
  }
  parentPort.postMessage({ id, match: null });
});`;

interface Job {
  id: number;
  /** performance.now() when it was queued: its wait for a worker is reported. */
  queuedAt: number;
  candidates: string[];
  groups: Array<[string, string[]]>;
  resolve: (match: SecretMatch | null) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

/**
 * bcrypt runs ~100 ms of pure CPU per check: on the event loop it would stall every other request of
 * the process. The pool spreads checks over worker threads, queues them per source and serves the
 * sources in turn, and bounds the queue (beyond it: HasherBusyError, answered 503).
 */
export class BcryptPool implements SecretHasher {
  private readonly slots: Slot[] = [];
  private readonly queue: FairQueue<Job>;
  private nextId = 1;
  private closed = false;
  private runningInline = 0;
  private readonly telemetry: BcryptTelemetry | undefined;

  constructor(options: BcryptPoolOptions = {}) {
    const count = options.workers ?? availableParallelism();
    this.telemetry = options.telemetry;
    this.queue = new FairQueue(options.maxQueue ?? DEFAULTS.bcryptQueue, options.maxQueuePerSource ?? DEFAULTS.bcryptQueuePerSource);
    for (let i = 0; i < count; i++) this.slots.push(this.spawn());
  }

  match(candidates: string[], hashes: string[], source = ''): Promise<SecretMatch | null> {
    if (this.closed) return Promise.reject(new Error('bcrypt pool closed'));
    const groups = [...bySalt(hashes)];
    if (candidates.length === 0 || groups.length === 0) return Promise.resolve(null);
    if (this.slots.length === 0) return this.matchInline(candidates, groups);
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, queuedAt: performance.now(), candidates, groups, resolve, reject };
      // An idle worker always takes one: only checks that would wait count against the bounds.
      const idle = this.queue.size === 0 && this.slots.some((s) => s.job === null);
      const admission = this.queue.admit(source, job, !idle);
      if (!admission.admitted) return reject(new HasherBusyError());
      admission.evicted?.reject(new HasherBusyError());
      this.dispatch();
    });
  }

  /** Checks waiting for a worker now (the metrics read it at scrape time). */
  get queued(): number {
    return this.queue.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.drain()) job.reject(new Error('bcrypt pool closed'));
    // Checks running in a worker being terminated would otherwise never settle.
    for (const slot of this.slots) {
      slot.job?.reject(new Error('bcrypt pool closed'));
      slot.job = null;
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** workers: 0: bcryptjs's async mode, which still computes on the main thread (in slices). */
  private async matchInline(candidates: string[], groups: Array<[string, string[]]>): Promise<SecretMatch | null> {
    // One check runs, the rest count as waiting (the same bound as with workers). Inline checks have
    // no queue to reorder: they run as they come, without per-source fairness.
    if (this.runningInline > this.queue.capacity) throw new HasherBusyError();
    this.runningInline++;
    try {
      for (const candidate of candidates) {
        for (const [salt, hashes] of groups) {
          const computed = await bcrypt.hash(candidate, salt);
          const hash = hashes.find((h) => sameString(h, computed));
          if (hash) return { candidate, hash };
        }
      }
      return null;
    } finally {
      this.runningInline--;
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath: require.resolve('bcryptjs') } });
    worker.unref(); // an idle pool never keeps the process alive
    const slot: Slot = { worker, job: null };
    worker.on('message', (msg: { id: number; match: SecretMatch | null }) => {
      const job = slot.job;
      slot.job = null;
      if (job && job.id === msg.id) job.resolve(msg.match);
      this.dispatch();
    });
    // 'exit' follows every end of a worker, 'error' or not: a worker that dies quietly is replaced too.
    let failure: Error | null = null;
    worker.on('error', (err) => {
      failure = err;
    });
    worker.on('exit', (code) => this.replace(slot, failure ?? new Error(`bcrypt worker exited (code ${code})`)));
    return slot;
  }

  /** A crashed worker fails its job and is replaced; the pool keeps its size. */
  private replace(slot: Slot, err: Error): void {
    slot.job?.reject(err);
    slot.job = null;
    const index = this.slots.indexOf(slot);
    if (index !== -1 && !this.closed) this.slots[index] = this.spawn();
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job) continue;
      const job = this.queue.next();
      if (!job) return;
      slot.job = job;
      this.telemetry?.bcryptWaited((performance.now() - job.queuedAt) / 1000);
      slot.worker.postMessage({ id: job.id, candidates: job.candidates, groups: job.groups });
    }
  }
}
