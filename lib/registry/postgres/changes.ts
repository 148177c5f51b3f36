import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { ChangeFeed } from '../storage';
import { Listener } from './listener';

export interface ChangeFeedOptions {
  /** The listening connection's settings. */
  listen: pg.ClientConfig;
  /** Reads the change counter now (through the pool). */
  readCounter: () => Promise<number>;
  maxStalenessMs: number;
  /** How long the listening connection may take to answer a check before it is replaced. */
  checkTimeoutMs: number;
}

/**
 * PostgreSQL's change feed. The schema's triggers bump a counter and NOTIFY with its value on every
 * committed change; a dedicated connection LISTENs, and every notification is announced to the
 * watchers at once. Notifications can be lost (the listening connection drops, or dies silently), so
 * the counter is also polled every maxStalenessMs / 2, and a counter that moved unannounced is
 * announced then. current() is true only while the last confirmation is younger than
 * maxStalenessMs: a confirmation is a poll answer, dated when the poll was sent (every change
 * committed before then is in it). Only polls confirm: a notification says something changed, not
 * that nothing else did. So however notifications fare, a cached answer is never older than the bound.
 */
export class PostgresChangeFeed implements ChangeFeed {
  private readonly watchers = new Set<() => void>();
  private counter = 0;
  /** performance.now() when the last confirming poll was sent; -Infinity: never confirmed. */
  private confirmedAt = -Infinity;
  private listener: Listener | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: ChangeFeedOptions) {}

  watch(listener: () => void): () => void {
    // A wrapper of our own: the same function watched twice is two subscriptions, each ended once.
    const subscription = (): void => listener();
    this.watchers.add(subscription);
    return () => {
      this.watchers.delete(subscription);
    };
  }

  current(): boolean {
    return performance.now() - this.confirmedAt < this.options.maxStalenessMs;
  }

  /** Starts from a counter value read when `readAt` (performance.now()) was; resolves once listening (or retrying to). */
  async start(channel: string, counter: number, readAt: number): Promise<void> {
    if (this.stopped) return;
    this.counter = counter;
    this.confirmedAt = readAt;
    this.listener = new Listener(this.options.listen, channel, {
      notified: (payload) => this.notified(payload),
      // Whatever was committed while nobody listened is announced once, now.
      resubscribed: () => this.announce(),
    });
    this.schedulePoll();
    await this.listener.start();
  }

  /** Stops polling and listening; current() is false from now on. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.confirmedAt = -Infinity;
    clearTimeout(this.pollTimer);
    await this.listener?.stop();
  }

  private notified(payload: string): void {
    const value = Number(payload);
    if (Number.isSafeInteger(value) && value > this.counter) this.counter = value;
    this.announce();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => void this.poll(), Math.max(1, Math.floor(this.options.maxStalenessMs / 2)));
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    const sentAt = performance.now();
    try {
      const value = await this.options.readCounter();
      if (this.stopped) return;
      if (value !== this.counter) {
        // Ahead of every notification seen: one was lost, so the listener is asked to answer. Behind:
        // a notification overtook this poll, or the counter was reset (a restored database).
        if (value > this.counter) this.listener?.check(this.options.checkTimeoutMs);
        this.counter = value;
        this.announce();
      }
      this.confirmedAt = Math.max(this.confirmedAt, sentAt);
    } catch {
      // Not confirmed: current() turns false once the last confirmation is older than the bound.
    } finally {
      this.schedulePoll();
    }
  }

  private announce(): void {
    for (const watcher of [...this.watchers]) {
      try {
        watcher();
      } catch {
        // One watcher's failure must not keep the others (or the feed) from hearing of the change.
      }
    }
  }
}
