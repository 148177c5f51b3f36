import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import { DEFAULTS } from '../defaults';
import { HasherBusyError } from '../errors';

/** Compares a secret against bcrypt hashes; true if any matches. */
export interface SecretHasher {
  compare(secret: string, hashes: string[]): Promise<boolean>;
  close(): Promise<void>;
}

export interface BcryptPoolOptions {
  /** Worker threads; 0 hashes on the main thread (bcryptjs async). Default: the number of cores. */
  workers?: number;
  /** Comparisons waiting beyond the running ones before new ones are refused (default 64). */
  maxQueue?: number;
}

// The worker is plain JavaScript evaluated from a string so it runs the same from ts-jest and dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
parentPort.on('message', ({ id, secret, hashes }) => {
  let ok = false;
  for (const hash of hashes) { if (bcrypt.compareSync(secret, hash)) { ok = true; break; } }
  parentPort.postMessage({ id, ok });
});`;

interface Job {
  id: number;
  secret: string;
  hashes: string[];
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

/**
 * bcrypt runs ~100 ms of pure CPU per compare: on the event loop it would stall every other request
 * of the process. The pool spreads compares over worker threads and bounds the queue.
 */
export class BcryptPool implements SecretHasher {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly maxQueue: number;
  private nextId = 1;
  private closed = false;

  constructor(options: BcryptPoolOptions = {}) {
    const count = options.workers ?? availableParallelism();
    this.maxQueue = options.maxQueue ?? DEFAULTS.bcryptQueue;
    for (let i = 0; i < count; i++) this.slots.push(this.spawn());
  }

  compare(secret: string, hashes: string[]): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('bcrypt pool closed'));
    if (this.slots.length === 0) return this.compareInline(secret, hashes);
    // Only compares that would wait count against maxQueue: an idle worker always takes one.
    const idle = this.slots.some((s) => s.job === null);
    if (!idle && this.queue.length >= this.maxQueue) return Promise.reject(new HasherBusyError());
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, secret, hashes, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('bcrypt pool closed'));
    // Compares running in a worker being terminated would otherwise never settle.
    for (const slot of this.slots) {
      slot.job?.reject(new Error('bcrypt pool closed'));
      slot.job = null;
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** workers: 0: bcryptjs's async mode, which still computes on the main thread (in slices). */
  private async compareInline(secret: string, hashes: string[]): Promise<boolean> {
    // One compare counts as running, the rest as waiting (the same bound as with workers).
    if (this.pendingInline > this.maxQueue) throw new HasherBusyError();
    this.pendingInline++;
    try {
      for (const hash of hashes) if (await bcrypt.compare(secret, hash)) return true;
      return false;
    } finally {
      this.pendingInline--;
    }
  }
  private pendingInline = 0;

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath: require.resolve('bcryptjs') } });
    worker.unref(); // an idle pool never keeps the process alive
    const slot: Slot = { worker, job: null };
    worker.on('message', (msg: { id: number; ok: boolean }) => {
      const job = slot.job;
      slot.job = null;
      if (job && job.id === msg.id) job.resolve(msg.ok);
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
      if (this.queue.length === 0) return;
      if (slot.job) continue;
      const job = this.queue.shift() as Job;
      slot.job = job;
      slot.worker.postMessage({ id: job.id, secret: job.secret, hashes: job.hashes });
    }
  }
}
