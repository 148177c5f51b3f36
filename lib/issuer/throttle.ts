import { setBounded } from '../bounded-map';
import { DEFAULTS } from '../defaults';

/**
 * Throttling of failed client authentication (RFC 6749 §10.10, RFC 9700 §4.16: make credential guessing
 * expensive). Counters are keyed by strings such as "client:<id>" and "addr:<ip>"; the interface is
 * asynchronous so a shared store can hold them for several instances later.
 */
export interface FailureThrottle {
  /** Seconds until the first of `keys` stops being locked, or 0 when none is. */
  retryAfter(keys: string[]): Promise<number>;
  recordFailure(keys: string[]): Promise<void>;
  /** A success clears the failures of these keys. */
  recordSuccess(keys: string[]): Promise<void>;
}

export interface ThrottleOptions {
  /** Failures of one client_id within the window that lock it for one window (default 10). */
  maxFailuresPerClient?: number;
  /** Failures from one source address within the window that lock it (default 50). */
  maxFailuresPerAddress?: number;
  /** Window and lockout length in seconds (default 300). */
  windowSeconds?: number;
  /** Most keys tracked; the oldest are forgotten beyond it (default 100,000). */
  maxKeys?: number;
  /**
   * Milliseconds a locked caller waits before its 429 (default 1000): a tarpit, so a flood from a
   * locked client or address sends few requests and costs the server almost nothing.
   */
  lockedDelayMs?: number;
}

interface Counter {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

/** In-memory fixed-window counters with lockout, bounded in size. */
export class MemoryFailureThrottle implements FailureThrottle {
  private readonly counters = new Map<string, Counter>();
  private readonly perClient: number;
  private readonly perAddress: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;

  constructor(
    options: ThrottleOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    const defaults = DEFAULTS.throttle;
    this.perClient = options.maxFailuresPerClient ?? defaults.maxFailuresPerClient;
    this.perAddress = options.maxFailuresPerAddress ?? defaults.maxFailuresPerAddress;
    this.windowMs = (options.windowSeconds ?? defaults.windowSeconds) * 1000;
    this.maxKeys = options.maxKeys ?? defaults.maxKeys;
  }

  retryAfter(keys: string[]): Promise<number> {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const c = this.counters.get(key);
      if (c && c.lockedUntil > now) wait = Math.max(wait, Math.ceil((c.lockedUntil - now) / 1000));
    }
    return Promise.resolve(wait);
  }

  recordFailure(keys: string[]): Promise<void> {
    const now = this.now();
    for (const key of keys) {
      let c = this.counters.get(key);
      if (!c || now - c.windowStart >= this.windowMs) {
        c = { failures: 0, windowStart: now, lockedUntil: 0 };
        setBounded(this.counters, key, c, this.maxKeys);
      }
      c.failures++;
      if (c.failures >= this.limitFor(key)) c.lockedUntil = now + this.windowMs;
    }
    return Promise.resolve();
  }

  recordSuccess(keys: string[]): Promise<void> {
    for (const key of keys) this.counters.delete(key);
    return Promise.resolve();
  }

  private limitFor(key: string): number {
    return key.startsWith('client:') ? this.perClient : this.perAddress;
  }
}
