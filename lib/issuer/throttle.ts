import { createHash } from 'node:crypto';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { DEFAULTS } from '../defaults';
import type { LimiterOptions } from '../registry';

/**
 * One client-authentication attempt as the throttle sees it. Keys are bounded in size whatever was
 * sent: the client id is hashed, the address cut.
 */
export interface AuthAttempt {
  /** A short hash of the presented client_id, or null when none was presented. */
  client: string | null;
  /** The caller's address (req.ip: with `trust proxy`, taken from X-Forwarded-For). */
  address: string;
}

/** Longest address kept: an IPv6 address with a zone fits; anything longer is not an address. */
const MAX_ADDRESS_LENGTH = 64;

export function authAttempt(clientId: string | null, address: string | undefined): AuthAttempt {
  const client = clientId === null ? null : createHash('sha256').update(clientId).digest('base64url').slice(0, 22);
  return { client, address: (address ?? '').slice(0, MAX_ADDRESS_LENGTH) };
}

/**
 * Throttling of failed client authentication (RFC 6749 §10.10, RFC 9700 §4.16): a brake on guessing
 * and on cost, never a switch a third party can flip. Client ids are not secret, so failures only
 * ever refuse the address that made them (for that client, and for every client past a higher
 * limit); for the client id alone they only slow failed attempts down, by a bounded delay.
 */
export interface FailureThrottle {
  /** Before any bcrypt work: seconds until this address may try this client again, 0 when it may now. */
  retryAfter(attempt: AuthAttempt): Promise<number>;
  /**
   * Counts a failed attempt; resolves to the milliseconds its answer is held back (the per-client
   * slowdown). `withSecret` false (no secret presented): counted against this address only (in all,
   * and for this client id), never for the client id alone, so it costs the client nothing.
   */
  recordFailure(attempt: AuthAttempt, withSecret: boolean): Promise<number>;
  /** A verified secret clears this address's failures for the client. */
  recordSuccess(attempt: AuthAttempt): Promise<void>;
}

export interface ThrottleOptions {
  /** Failures for one client id from one address, within the window, that refuse that pair for a window (default 10). */
  maxFailuresPerClientAndAddress?: number;
  /** Failures from one address, whatever the client ids, that refuse the address for a window (default 50). */
  maxFailuresPerAddress?: number;
  /** Failures for one client id from all addresses after which its failed attempts are slowed down (default 10). */
  slowdownAfter?: number;
  /** Delay added per failure past `slowdownAfter`, and its bound, in ms (defaults 100 and 2000). */
  slowdownStepMs?: number;
  maxSlowdownMs?: number;
  /** Window and lockout length in seconds (default 300). */
  windowSeconds?: number;
  /**
   * Milliseconds a refused caller waits for its answer (default 1000): a tarpit, so a flood from a
   * refused address sends few requests and costs the server almost nothing.
   */
  lockedDelayMs?: number;
}

/** Makes the counters of one family (in the registry's storage, so every instance shares them). */
export type LimiterFactory = (options: LimiterOptions) => RateLimiterAbstract;

interface Family {
  limiter: RateLimiterAbstract;
  /** Failures that lock: the limiter allows one fewer, and blocks on the next. */
  limit: number;
}

const isLimiterAnswer = (value: unknown): value is RateLimiterRes => typeof value === 'object' && value !== null && 'msBeforeNext' in value;

/**
 * The failure counters, kept by rate-limiter-flexible in the registry's storage (SQLite or
 * PostgreSQL): failures counted by one instance count at every instance.
 */
export class LimiterThrottle implements FailureThrottle {
  private readonly pair: Family;
  private readonly address: Family;
  private readonly client: RateLimiterAbstract;
  private readonly slowdownAfter: number;
  private readonly slowdownStepMs: number;
  private readonly maxSlowdownMs: number;

  constructor(makeLimiter: LimiterFactory, options: ThrottleOptions = {}) {
    const defaults = DEFAULTS.throttle;
    const windowSeconds = options.windowSeconds ?? defaults.windowSeconds;
    const locking = (keyPrefix: string, limit: number): Family => ({
      // The limit-th failure exceeds points = limit - 1 and blocks the key for one window.
      limiter: makeLimiter({ keyPrefix, points: limit - 1, durationSeconds: windowSeconds, blockDurationSeconds: windowSeconds }),
      limit,
    });
    this.pair = locking('ccgate-fail-pair', options.maxFailuresPerClientAndAddress ?? defaults.maxFailuresPerClientAndAddress);
    this.address = locking('ccgate-fail-addr', options.maxFailuresPerAddress ?? defaults.maxFailuresPerAddress);
    // Counts only: the client id alone never blocks.
    this.client = makeLimiter({ keyPrefix: 'ccgate-fail-client', points: Number.MAX_SAFE_INTEGER, durationSeconds: windowSeconds, blockDurationSeconds: 0 });
    this.slowdownAfter = options.slowdownAfter ?? defaults.slowdownAfter;
    this.slowdownStepMs = options.slowdownStepMs ?? defaults.slowdownStepMs;
    this.maxSlowdownMs = options.maxSlowdownMs ?? defaults.maxSlowdownMs;
  }

  async retryAfter(attempt: AuthAttempt): Promise<number> {
    const waits = await Promise.all([
      attempt.client === null ? 0 : this.lockedFor(this.pair, pairKey(attempt.client, attempt.address)),
      this.lockedFor(this.address, attempt.address),
    ]);
    return Math.max(...waits);
  }

  async recordFailure(attempt: AuthAttempt, withSecret: boolean): Promise<number> {
    await consume(this.address.limiter, attempt.address);
    if (attempt.client === null) return 0;
    await consume(this.pair.limiter, pairKey(attempt.client, attempt.address));
    if (!withSecret) return 0;
    const failures = await consume(this.client, attempt.client);
    return Math.min(this.maxSlowdownMs, Math.max(0, failures - this.slowdownAfter) * this.slowdownStepMs);
  }

  async recordSuccess(attempt: AuthAttempt): Promise<void> {
    if (attempt.client !== null) await this.pair.limiter.delete(pairKey(attempt.client, attempt.address));
  }

  private async lockedFor(family: Family, key: string): Promise<number> {
    const state = await family.limiter.get(key);
    return state && state.consumedPoints >= family.limit ? Math.ceil(state.msBeforeNext / 1000) : 0;
  }
}

const pairKey = (client: string, address: string): string => `${client}|${address}`;

/** One more failure for `key`; the count so far. consume() rejects with the limiter's answer once over its points: that is the lock. */
async function consume(limiter: RateLimiterAbstract, key: string): Promise<number> {
  try {
    return (await limiter.consume(key)).consumedPoints;
  } catch (err: unknown) {
    if (isLimiterAnswer(err)) return err.consumedPoints;
    throw err;
  }
}
