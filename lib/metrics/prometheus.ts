import { Gauge, Histogram, Registry } from 'prom-client';
import { DEFAULTS } from '../defaults';
import { SIGNING_ALGORITHMS } from '../tokens/jwk';
import { GUARD_REFUSALS } from './guard-outcomes';
import { TalliedCounter, type Tally } from './tally';
import { CACHE_NAMES, type CacheName, type CacheTelemetry, type ClientAuthFailure, type GuardRefusal, type RegistryFailure, type Telemetry } from './telemetry';
import { within } from './timeout';

/** What a scrape reads of a signing key (the registry's KeyRecord has it). */
export interface ObservedKey {
  alg: string;
  status: 'pending' | 'active' | 'retired';
  activatesAt: number;
}

/** State read when the registry is scraped, not counted as it happens. */
export interface ObservedSources {
  /** Checks waiting for a bcrypt worker now. */
  bcryptQueueDepth(): number;
  /** The stored signing keys (a storage read: bounded by `keyReadTimeoutMs`). */
  signingKeys(): Promise<ObservedKey[]>;
}

export interface PromTelemetryOptions {
  /** Distinct client ids given their own label in ccgate_tokens_issued_by_client_total; the rest count as "other" (default 100). */
  clientLabels?: number;
}

/** The bucket of every client past the cap. Generated client ids are 22 characters: none is "other". */
export const OTHER_CLIENT = 'other';
const FAILURE_REASONS: readonly ClientAuthFailure[] = ['invalid_credentials', 'malformed', 'missing'];
/** Token endpoint answers run from a cached secret (~1 ms) through bcrypt (~100 ms) to the throttle's tarpit (1 s). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A scrape never waits longer than this for the keys: the rest of the metrics still answer. */
const KEY_READ_TIMEOUT_MS = 1000;

class CacheTally implements CacheTelemetry {
  constructor(
    private readonly hits: Tally,
    private readonly misses: Tally,
  ) {}

  lookup(hit: boolean): void {
    if (hit) this.hits.value++;
    else this.misses.value++;
  }
}

/**
 * Telemetry into a prom-client Registry of its own (never the global default registry: two ccgate
 * instances, or the app's own metrics, never collide). Counters on hot paths are plain numbers
 * copied into the registry at scrape time; gauges of state (bcrypt queue, signing keys) are read then.
 */
export class PromTelemetry implements Telemetry {
  /** The registry to expose (metricsRouter() serves it; Registry.merge() combines it with the app's). */
  readonly registry = new Registry();
  readonly verifiedTokenCache: CacheTelemetry;
  readonly secretCache: CacheTelemetry;
  readonly tokenStatusCache: CacheTelemetry;
  readonly clientCredentialsCache: CacheTelemetry;

  private readonly clientLabels: number;
  private readonly issued = new TalliedCounter(this.registry, 'ccgate_tokens_issued_total', 'Access tokens issued, by signing algorithm.', ['alg']);
  private readonly issuedByAlg = this.issued.children('alg', SIGNING_ALGORITHMS);
  private readonly issuedByClientCounter = new TalliedCounter(
    this.registry,
    'ccgate_tokens_issued_by_client_total',
    `Access tokens issued, by client (the first clients seen; the rest as client_id="${OTHER_CLIENT}").`,
    ['client_id'],
  );
  private readonly byClient = new Map<string, Tally>();
  private readonly otherClient = this.issuedByClientCounter.child({ client_id: OTHER_CLIENT });
  private readonly authFailures = new TalliedCounter(this.registry, 'ccgate_client_auth_failures_total', 'Failed client authentications, by reason.', [
    'reason',
  ]).children('reason', FAILURE_REASONS);
  private readonly throttledTally = new TalliedCounter(
    this.registry,
    'ccgate_throttled_total',
    'Client authentications refused by the failure throttle (answered 401 with Retry-After).',
    [],
  ).child({});
  private readonly decisions = new TalliedCounter(this.registry, 'ccgate_guard_decisions_total', 'Guarded requests, by outcome and refusal reason.', [
    'outcome',
    'reason',
  ]);
  private readonly accepted = this.decisions.child({ outcome: 'accepted', reason: 'none' });
  private readonly refusals = new Map<string, Tally>(GUARD_REFUSALS.map(([reason, outcome]) => [reason, this.decisions.child({ outcome, reason })]));
  private readonly registryErrors = new TalliedCounter(this.registry, 'ccgate_registry_errors_total', 'Failed registry storage calls, by operation and kind.', [
    'operation',
    'kind',
  ]);
  private readonly registryErrorTallies = new Map<string, Tally>();
  private readonly latency = new Histogram({
    name: 'ccgate_token_endpoint_duration_seconds',
    help: 'Time to answer POST /token, by HTTP status.',
    labelNames: ['code'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly latencyByCode = new Map<number, Histogram.Internal<'code'>>();
  private readonly bcryptWait = new Histogram({
    name: 'ccgate_bcrypt_queue_wait_seconds',
    help: 'Time a bcrypt check waited for a worker thread.',
    buckets: WAIT_BUCKETS,
    registers: [this.registry],
  });
  private sources: ObservedSources | undefined;
  private keysRead: Promise<ObservedKey[] | null> | undefined;

  constructor(options: PromTelemetryOptions = {}) {
    this.clientLabels = options.clientLabels ?? DEFAULTS.metricsClientLabels;
    const hits = new TalliedCounter(this.registry, 'ccgate_cache_hits_total', 'Lookups answered from a cache, by cache.', ['cache']).children(
      'cache',
      CACHE_NAMES,
    );
    const misses = new TalliedCounter(this.registry, 'ccgate_cache_misses_total', 'Lookups a cache could not answer, by cache.', ['cache']).children(
      'cache',
      CACHE_NAMES,
    );
    const cache = (name: CacheName): CacheTelemetry => new CacheTally(hits.get(name) as Tally, misses.get(name) as Tally);
    this.verifiedTokenCache = cache('verified_tokens');
    this.tokenStatusCache = cache('token_statuses');
    this.clientCredentialsCache = cache('client_credentials');
    this.secretCache = cache('secrets');
    this.stateGauges();
  }

  /** Where the scrape-time gauges read from (set once the pool and the registry exist). */
  observe(sources: ObservedSources): void {
    this.sources = sources;
  }

  guardAccepted(): void {
    this.accepted.value++;
  }

  guardRefused(reason: GuardRefusal): void {
    this.refusals.get(reason)?.inc();
  }

  tokenIssued(alg: string, clientId: string): void {
    (this.issuedByAlg.get(alg) ?? this.issued.child({ alg })).inc();
    this.clientTally(clientId).inc();
  }

  clientAuthFailed(reason: ClientAuthFailure): void {
    this.authFailures.get(reason)?.inc();
  }

  throttled(): void {
    this.throttledTally.inc();
  }

  tokenEndpointLatency(seconds: number, status: number): void {
    let child = this.latencyByCode.get(status);
    if (!child) {
      child = this.latency.labels(String(status));
      this.latencyByCode.set(status, child);
    }
    child.observe(seconds);
  }

  bcryptWaited(seconds: number): void {
    this.bcryptWait.observe(seconds);
  }

  registryError(operation: string, kind: RegistryFailure): void {
    // Operations are the storage's methods, a bounded set: a child is made on each one's first failure.
    const key = `${operation} ${kind}`;
    let tally = this.registryErrorTallies.get(key);
    if (!tally) {
      tally = this.registryErrors.child({ operation, kind });
      this.registryErrorTallies.set(key, tally);
    }
    tally.inc();
  }

  private clientTally(clientId: string): Tally {
    const known = this.byClient.get(clientId);
    if (known) return known;
    if (this.byClient.size >= this.clientLabels) return this.otherClient;
    const tally = this.issuedByClientCounter.child({ client_id: clientId });
    this.byClient.set(clientId, tally);
    return tally;
  }

  /** Gauges of state, read at scrape time. */
  private stateGauges(): void {
    const queueDepth = (): number => this.sources?.bcryptQueueDepth() ?? 0;
    const readKeys = (): Promise<ObservedKey[] | null> => this.readKeys();
    new Gauge({
      name: 'ccgate_bcrypt_queue_depth',
      help: 'bcrypt checks waiting for a worker thread.',
      registers: [this.registry],
      collect() {
        this.set(queueDepth());
      },
    });
    new Gauge({
      name: 'ccgate_signing_key_age_seconds',
      help: 'Seconds since the signing key of each algorithm became active (absent while the registry cannot be read).',
      labelNames: ['alg'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const now = Date.now() / 1000;
        for (const key of (await readKeys()) ?? []) if (key.status === 'active') this.set({ alg: key.alg }, Math.max(0, now - key.activatesAt));
      },
    });
    new Gauge({
      name: 'ccgate_signing_keys',
      help: 'Stored signing keys, by algorithm and status (pending keys are published before they sign).',
      labelNames: ['alg', 'status'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const key of (await readKeys()) ?? []) this.inc({ alg: key.alg, status: key.status });
      },
    });
  }

  /** The keys, read once per scrape by both key gauges; null when the registry does not answer in time. */
  private readKeys(): Promise<ObservedKey[] | null> {
    const sources = this.sources;
    if (!sources) return Promise.resolve(null);
    this.keysRead ??= within(sources.signingKeys(), KEY_READ_TIMEOUT_MS)
      .catch(() => null)
      .finally(() => {
        this.keysRead = undefined;
      });
    return this.keysRead;
  }
}
