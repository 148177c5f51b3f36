import { DEFAULTS } from '../defaults';
import { RemoteFetchError } from '../errors';
import { MAX_CLIENT_JWKS_BYTES, readFetchedJwks, StaticKeySet, type ClientKeys, type JwsAlgorithm, type JwsKey } from '../tokens';
import { boundedGet } from './bounded-get';
import { checkKeySetUrl } from './key-set-url';

/**
 * Fetches unknown kids may cause per cooldown window: a garbage token just before a rotation spends
 * one, and the new key's first token still gets its fetch; a flood of garbage kids costs the key
 * server at most this many fetches per window.
 */
export const UNKNOWN_KID_FETCHES_PER_COOLDOWN = 3;

/** When a key set held from a URL is fetched again. */
export interface KeySetRefreshPolicy {
  /** Window bounding the fetches unknown kids cause: at most UNKNOWN_KID_FETCHES_PER_COOLDOWN per window; after a failed fetch, none within it. */
  cooldownSeconds: number;
  /** Least seconds between the last fetch and one caused by an unknown kid (capped at the cooldown). */
  refetchIntervalSeconds: number;
  /** Seconds after which the key set is refreshed on next use. */
  maxAgeSeconds: number;
}

/** What the policy needs to know of a key set: whether it holds any key. */
export interface HeldKeySet {
  readonly size: number;
}

const wait = (ms: number): Promise<void> => (ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms).unref()));

/**
 * A key set fetched from a URL, and the policy of fetching it again. A key the set lacks (an unknown
 * kid) triggers a refetch once the last fetch is `refetchIntervalSeconds` old (a request arriving
 * sooner waits for that moment, sharing one fetch with every other), at most
 * UNKNOWN_KID_FETCHES_PER_COOLDOWN times per cooldown window, so garbage cannot cause a fetch storm
 * nor lock out a rotated key for a whole cooldown. When the server is down, the keys already held
 * keep working and it is asked again only after the cooldown; with no key held, its failure is thrown.
 */
export class KeySetRefresher<S extends HeldKeySet> {
  private held: S;
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private inFlight: Promise<void> | null = null;
  /** Why the last fetch failed; null once one succeeds. */
  private lastError: Error | null = null;
  private readonly cooldownMs: number;
  private readonly refetchIntervalMs: number;
  private readonly maxAgeMs: number;
  /** When the fetches caused by unknown kids (in the current window) started. */
  private unknownKidFetches: number[] = [];

  /**
   * @param fetchSet fetches and parses the whole set; throws when it cannot.
   * @param empty the set held before the first fetch.
   * @param dropsHeldKeys a failure after which the keys held must not be used either.
   */
  constructor(
    private readonly fetchSet: () => Promise<S>,
    private readonly empty: S,
    policy: KeySetRefreshPolicy,
    private readonly dropsHeldKeys: (failure: Error) => boolean = () => false,
  ) {
    this.held = empty;
    this.cooldownMs = policy.cooldownSeconds * 1000;
    this.refetchIntervalMs = Math.min(policy.refetchIntervalSeconds * 1000, this.cooldownMs);
    this.maxAgeMs = policy.maxAgeSeconds * 1000;
  }

  /**
   * The set, after whatever fetch is due: `holds(set)` false means it lacks the key sought (an
   * unknown kid), otherwise only a stale set is refetched.
   */
  async current(holds: (set: S) => boolean): Promise<S> {
    const now = Date.now();
    if (!holds(this.held)) {
      await this.fetchForUnknownKid(now);
    } else if (now - this.fetchedAt > this.maxAgeMs && now - this.attemptedAt >= this.cooldownMs) {
      // Server down: keep serving with the keys we hold (the failure is kept in lastError).
      await this.refresh(0).catch(() => undefined);
    }
    // With no keys at all we cannot judge anything: the failure, also while the cooldown holds off a
    // retry (otherwise everything in the cooldown would read as signed by an unknown key).
    if (this.held.size === 0 && this.lastError !== null) throw this.lastError;
    return this.held;
  }

  /**
   * Synchronous: the set held when current(holds) would answer it without any fetch (it holds the
   * key sought, and no refresh is due); undefined: call current().
   */
  known(holds: (set: S) => boolean): S | undefined {
    const now = Date.now();
    if (!holds(this.held) || (now - this.fetchedAt > this.maxAgeMs && now - this.attemptedAt >= this.cooldownMs)) return undefined;
    return this.held;
  }

  /** A kid we do not hold: a key published since our last fetch (a rotation), or garbage. */
  private async fetchForUnknownKid(now: number): Promise<void> {
    // A fetch under way, or waiting for its moment, may bring this kid: wait for it rather than start another.
    if (this.inFlight) return this.inFlight.catch(() => undefined);
    const delay = this.unknownKidDelay(now);
    if (delay === null) return;
    this.unknownKidFetches.push(now + delay);
    await this.refresh(delay).catch(() => undefined);
  }

  /** How long to wait before fetching for an unknown kid; null: not within this window (budget spent, or the server just failed). */
  private unknownKidDelay(now: number): number | null {
    const sinceAttempt = now - this.attemptedAt;
    if (this.lastError !== null && sinceAttempt < this.cooldownMs) return null;
    this.unknownKidFetches = this.unknownKidFetches.filter((at) => now - at < this.cooldownMs);
    if (this.unknownKidFetches.length >= UNKNOWN_KID_FETCHES_PER_COOLDOWN) return null;
    return Math.max(0, this.refetchIntervalMs - sinceAttempt);
  }

  /** One fetch at a time, after `delayMs`; concurrent callers share it. */
  private refresh(delayMs: number): Promise<void> {
    this.inFlight ??= wait(delayMs)
      .then(() => this.load())
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  private async load(): Promise<void> {
    this.attemptedAt = Date.now();
    try {
      this.held = await this.fetchSet();
      this.fetchedAt = Date.now();
      this.lastError = null;
    } catch (err) {
      const failure = err instanceof Error ? err : new Error(String(err));
      if (this.dropsHeldKeys(failure)) this.held = this.empty;
      this.lastError = failure;
      throw failure;
    }
  }
}

/** How a client's jwks_uri is fetched, and fetched again; every member has a default (DEFAULTS.clientKeySets). */
export interface RemoteKeySetPolicy extends Partial<KeySetRefreshPolicy> {
  /** Allow plain http to a loopback host (default false: https only). */
  allowHttpLoopback?: boolean;
  /** Milliseconds to connect, TLS handshake included (default 2000). */
  connectTimeoutMs?: number;
  /** Milliseconds for the whole fetch (default 5000). */
  timeoutMs?: number;
}

/** A fetched set that gives away private keys: refused, and the keys held before are dropped with it. */
class PrivateKeysPublished extends RemoteFetchError {}

/**
 * A client's keys fetched from its registered jwks_uri (RFC 7591 §2), under the policy of
 * KeySetRefresher. Fetched with node:http / node:https directly: a connect bound and a total bound,
 * at most MAX_CLIENT_JWKS_BYTES read, no redirect followed, https only (or http to loopback where
 * allowed). A key failing the checks of parseClientJwks is skipped; a set with private key members
 * is refused whole. Failures are RemoteFetchError with a stable reason.
 */
export class RemoteKeySet implements ClientKeys {
  private readonly keys: KeySetRefresher<StaticKeySet>;
  private readonly allowHttpLoopback: boolean;
  private readonly connectTimeoutMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly url: string,
    policy: RemoteKeySetPolicy = {},
  ) {
    const defaults = DEFAULTS.clientKeySets;
    this.allowHttpLoopback = policy.allowHttpLoopback ?? false;
    this.connectTimeoutMs = policy.connectTimeoutMs ?? defaults.connectTimeoutMs;
    this.timeoutMs = policy.timeoutMs ?? defaults.timeoutMs;
    const refresh: KeySetRefreshPolicy = {
      cooldownSeconds: policy.cooldownSeconds ?? defaults.cooldownSeconds,
      refetchIntervalSeconds: policy.refetchIntervalSeconds ?? defaults.refetchIntervalSeconds,
      maxAgeSeconds: policy.maxAgeSeconds ?? defaults.maxAgeSeconds,
    };
    this.keys = new KeySetRefresher(
      () => this.fetchKeys(),
      new StaticKeySet({ keys: [] }),
      refresh,
      (e) => e instanceof PrivateKeysPublished,
    );
  }

  async keyFor(kid: string | undefined, alg: JwsAlgorithm): Promise<JwsKey | undefined> {
    const held = await this.keys.current((set) => set.find(kid, alg) !== undefined);
    return held.find(kid, alg);
  }

  private async fetchKeys(): Promise<StaticKeySet> {
    // Checked at every fetch: the URL was checked when registered, but allowHttpLoopback may have changed since.
    const checked = checkKeySetUrl(this.url, { allowHttpLoopback: this.allowHttpLoopback });
    if (!checked.ok) throw new RemoteFetchError('insecure_url', `${this.url}: ${checked.error}`);
    const text = await boundedGet(new URL(checked.url), {
      connectTimeoutMs: this.connectTimeoutMs,
      timeoutMs: this.timeoutMs,
      maxBytes: MAX_CLIENT_JWKS_BYTES,
    });
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new RemoteFetchError('bad_answer', `${checked.url}: not JSON`);
    }
    const read = readFetchedJwks(document);
    if (read.ok) return new StaticKeySet(read.jwks);
    if (read.privateMembers) throw new PrivateKeysPublished('bad_answer', `${checked.url}: ${read.error}`);
    throw new RemoteFetchError('bad_answer', `${checked.url}: ${read.error}`);
  }
}
