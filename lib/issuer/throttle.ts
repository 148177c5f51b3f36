import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { DEFAULTS } from '../defaults';
import type { LimiterOptions } from '../registry';

/**
 * Throttling of failed client authentication (RFC 6749 §10.10, RFC 9700 §4.16: make credential
 * guessing expensive). Counters are keyed by strings such as "client:<id>" and "addr:<ip>".
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
  /**
   * Milliseconds a locked caller waits before its 429 (default 1000): a tarpit, so a flood from a
   * locked client or address sends few requests and costs the server almost nothing.
   */
  lockedDelayMs?: number;
}

/** Makes the counters of one family (the registry's storage, so every instance shares them). */
export type LimiterFactory = (options: LimiterOptions) => RateLimiterAbstract;

interface Family {
  limiter: RateLimiterAbstract;
  /** Failures that lock: the limiter allows one fewer, and blocks on the next. */
  limit: number;
}

const isLimiterAnswer = (value: unknown): value is RateLimiterRes => typeof value === 'object' && value !== null && 'msBeforeNext' in value;

/**
 * Fixed-window failure counters with lockout, kept by rate-limiter-flexible in the registry's
 * storage (SQLite or PostgreSQL): failures counted by one instance count at every instance.
 * "client:" keys and "addr:" keys are two families with their own limits.
 */
export class LimiterThrottle implements FailureThrottle {
  private readonly families: Record<'client' | 'addr', Family>;

  constructor(makeLimiter: LimiterFactory, options: ThrottleOptions = {}) {
    const defaults = DEFAULTS.throttle;
    const windowSeconds = options.windowSeconds ?? defaults.windowSeconds;
    const family = (keyPrefix: string, limit: number): Family => ({
      // The limit-th failure exceeds points = limit - 1 and blocks the key for one window.
      limiter: makeLimiter({ keyPrefix, points: limit - 1, durationSeconds: windowSeconds, blockDurationSeconds: windowSeconds }),
      limit,
    });
    this.families = {
      client: family('ccgate-fail-client', options.maxFailuresPerClient ?? defaults.maxFailuresPerClient),
      addr: family('ccgate-fail-addr', options.maxFailuresPerAddress ?? defaults.maxFailuresPerAddress),
    };
  }

  async retryAfter(keys: string[]): Promise<number> {
    let wait = 0;
    for (const key of keys) {
      const { family, id } = this.familyOf(key);
      const state = await family.limiter.get(id);
      if (state && state.consumedPoints >= family.limit) wait = Math.max(wait, Math.ceil(state.msBeforeNext / 1000));
    }
    return wait;
  }

  async recordFailure(keys: string[]): Promise<void> {
    for (const key of keys) {
      const { family, id } = this.familyOf(key);
      // consume() rejects with the limiter's answer once the key is over its points: that is the lock.
      await family.limiter.consume(id).catch((err: unknown) => {
        if (!isLimiterAnswer(err)) throw err;
      });
    }
  }

  async recordSuccess(keys: string[]): Promise<void> {
    for (const key of keys) {
      const { family, id } = this.familyOf(key);
      await family.limiter.delete(id);
    }
  }

  private familyOf(key: string): { family: Family; id: string } {
    const colon = key.indexOf(':');
    const prefix = key.slice(0, colon);
    return { family: prefix === 'client' ? this.families.client : this.families.addr, id: key.slice(colon + 1) };
  }
}
