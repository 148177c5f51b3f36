import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { PublicJwk, SigningAlgorithm } from '../tokens';
import type { ClientJwks } from '../tokens/jwk-set';
import type { ClientAuthMethod, ClientRecord, ClientType, DpopPolicy, GrantType, GroupRecord, ResourceRecord } from './types';

/**
 * What a registry backend stores, and nothing else: rows in, rows out, each write one transaction.
 * Every rule (validation, id and secret generation, hashing, key lifecycle, pruning policy, audit
 * events, caching) lives in the Registry service above it, once for every backend. Refusals come
 * back as values (a write that finds no row says so); the service turns them into RegistryErrors.
 * A backend that cannot reach its database throws RegistryUnavailableError.
 */
export interface RegistryStorage {
  readonly groups: GroupStorage;
  readonly clients: ClientStorage;
  readonly resources: ResourceStorage;
  readonly keys: KeyStorage;
  readonly revocations: RevocationStorage;
  readonly replay: ReplayStorage;
  readonly changes: ChangeFeed;
  /** Counters of the failure throttle, shared by every instance on this storage. */
  limiter(options: LimiterOptions): RateLimiterAbstract;
  /**
   * Connects and migrates. Idempotent: concurrent calls share one attempt, and a failed attempt is
   * retried by the next call. Every other method may be called before it settles (it waits for it).
   */
  open(): Promise<void>;
  /** Resolves when the database answers now; throws RegistryUnavailableError when it does not. */
  ping(): Promise<void>;
  /** Deletes rows whose expiry is at or before the given times, in one transaction; null when another instance is pruning right now. */
  prune(before: PruneBefore): Promise<PruneCounts | null>;
  close(): Promise<void>;
}

/**
 * A rate-limiter-flexible limiter: `points` per fixed window of `durationSeconds`, and, once more are
 * consumed, the key blocked for `blockDurationSeconds`. `keyPrefix` keeps families of keys apart.
 */
export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  durationSeconds: number;
  blockDurationSeconds: number;
}

/** Unix seconds: rows whose expiry is at or before these times can go. */
export interface PruneBefore {
  revocations: number;
  replay: number;
}

/** How many rows a prune deleted (throttle rows included, when the backend keeps them). */
export interface PruneCounts {
  revocations: number;
  replay: number;
  throttle: number;
}

// ---- Groups ----

export interface GroupStorage {
  get(name: string): Promise<GroupRecord | null>;
  /** By name. */
  list(): Promise<GroupRecord[]>;
  /** Every scope some group holds, sorted. */
  listScopes(): Promise<string[]>;
  /** 'exists' when the name is taken. */
  insert(name: string, scopes: string[], createdAt: number): Promise<GroupRecord | 'exists'>;
  /** null: no such group. Scopes already held are kept once. */
  addScopes(name: string, scopes: string[]): Promise<GroupRecord | null>;
  /** null: no such group; `missing`: scopes the group does not hold (nothing removed). */
  removeScopes(name: string, scopes: string[]): Promise<GroupRecord | null | { missing: string[] }>;
  /** `inUse`: clients are members and `force` was not given (nothing deleted). */
  delete(name: string, force: boolean): Promise<'deleted' | 'not_found' | { inUse: number }>;
}

// ---- Clients and their secrets ----

/*
 * Groups and clients come out as the records the service hands on (GroupRecord, ClientRecord):
 * groups and scopes sorted, a client's scopes the union of its groups', its secrets those not
 * expired at `now`, the current one first, then by id descending.
 */

export interface NewClientRow {
  clientId: string;
  name: string;
  type: ClientType;
  grantTypes: GrantType[];
  tokenTtl: number | null;
  groups: string[];
  authMethod: ClientAuthMethod;
  /** null for a public or a private_key_jwt client. */
  secretHash: string | null;
  /** private_key_jwt: one of the two, the other null. */
  jwks: ClientJwks | null;
  jwksUri: string | null;
  dpop: DpopPolicy;
  createdAt: number;
}

/** What setPolicy changes: the DPoP policy, and (between the secret methods) the authentication method. */
export interface ClientPolicy {
  dpop?: DpopPolicy;
  authMethod?: Exclude<ClientAuthMethod, 'private_key_jwt'>;
}

/** A private_key_jwt client's keys: exactly one of the two is set. */
export interface ClientKeysRow {
  jwks: ClientJwks | null;
  jwksUri: string | null;
}

/** What client authentication needs, in one indexed read. */
export interface CredentialsRow {
  clientId: string;
  type: ClientType;
  grantTypes: GrantType[];
  tokenTtl: number | null;
  enabled: boolean;
  authMethod: ClientAuthMethod;
  jwks: ClientJwks | null;
  jwksUri: string | null;
  dpop: DpopPolicy;
  scopes: string[];
  /** Secrets not expired at `now`, the current one first. */
  secrets: Array<{ hash: string; expiresAt: number | null }>;
}

export interface ClientStorage {
  get(clientId: string, now: number): Promise<ClientRecord | null>;
  /** By creation time, then id. */
  list(now: number): Promise<ClientRecord[]>;
  credentials(clientId: string, now: number): Promise<CredentialsRow | null>;
  /** `unknownGroup`: a named group does not exist (nothing written). */
  insert(row: NewClientRow): Promise<ClientRecord | { unknownGroup: string }>;
  setEnabled(clientId: string, enabled: boolean, now: number): Promise<ClientRecord | null>;
  /**
   * The new hash becomes current. With an overlap the current secret stays valid until now +
   * overlap; any older overlapping secret ends now (at most two valid secrets at a time).
   */
  replaceSecret(clientId: string, secretHash: string, overlapSeconds: number, now: number): Promise<ClientRecord | null>;
  /** Replaces a client's registered keys at once (a key rollover); null: no such client. */
  setKeys(clientId: string, keys: ClientKeysRow, now: number): Promise<ClientRecord | null>;
  /** Changes a client's policies (those given; the others stay); null: no such client. */
  setPolicy(clientId: string, policy: ClientPolicy, now: number): Promise<ClientRecord | null>;
  delete(clientId: string): Promise<boolean>;
  addGroups(clientId: string, groups: string[], now: number): Promise<ClientRecord | null | { unknownGroup: string }>;
  /** `notMember`: groups the client is not in (nothing removed). */
  removeGroups(clientId: string, groups: string[], now: number): Promise<ClientRecord | null | { notMember: string[] }>;
}

// ---- Resources (RFC 8707) ----

export interface ResourceStorage {
  get(uri: string): Promise<ResourceRecord | null>;
  /** By URI. */
  list(): Promise<ResourceRecord[]>;
  /** 'exists' when the URI is registered already. */
  insert(uri: string, scopes: string[], createdAt: number): Promise<ResourceRecord | 'exists'>;
  /** null: no such resource. Scopes already held are kept once. */
  addScopes(uri: string, scopes: string[], now: number): Promise<ResourceRecord | null>;
  /** null: no such resource; `missing`: scopes it does not hold (nothing removed). */
  removeScopes(uri: string, scopes: string[], now: number): Promise<ResourceRecord | null | { missing: string[] }>;
  delete(uri: string): Promise<boolean>;
}

// ---- Signing keys ----

export interface KeyRow {
  kid: string;
  alg: SigningAlgorithm;
  /**
   * The private key as stored: an encrypted envelope ("ccgate-key.v1. ..."; key-protection.ts), or a
   * PKCS#8 PEM for keys written without a key secret. Only the service encrypts and decrypts it.
   */
  privateKeyPem: string;
  publicJwk: PublicJwk;
  createdAt: number;
  activatesAt: number;
  retiresAt: number | null;
  /** Latest `exp` of a token this key signed (recorded coarsely), null if none. */
  signedUntil: number | null;
}

/**
 * A change to the keys of one algorithm, computed by the service from the rows it read: applied
 * only if that algorithm's set of kids is still `expectedKids` (compare-and-set), so concurrent
 * rotations or first starts on several instances never leave two active keys.
 */
export interface KeyChange {
  alg: SigningAlgorithm;
  expectedKids: string[];
  retire: Array<{ kid: string; retiresAt: number }>;
  insert: KeyRow | null;
}

export interface KeyStorage {
  /** By activation time, then creation time. */
  list(): Promise<KeyRow[]>;
  /** false: the algorithm's keys changed since they were read; nothing was written. */
  apply(change: KeyChange): Promise<boolean>;
  /** Raises signed_until to at least `signedUntil`. */
  recordUse(kid: string, signedUntil: number): Promise<void>;
  /** How many of these were deleted. */
  delete(kids: string[]): Promise<number>;
  /**
   * Stores `replacement` as kid's private key if it is still `expected` (compare-and-set, for a
   * rewrap racing another one or a revocation); false when it was not (nothing written).
   */
  replacePrivateKey(kid: string, expected: string, replacement: string): Promise<boolean>;
}

// ---- Revocations ----

export interface RevocationRow {
  jti: string;
  clientId: string | null;
  expiresAt: number;
}

export interface RevocationStorage {
  /** Keeps the later expiry when a jti is revoked twice. */
  insert(row: RevocationRow, revokedAt: number): Promise<void>;
  /** Both reads are primary-key lookups: the cost does not grow with the registry. */
  status(jti: string, clientId: string): Promise<{ revoked: boolean; clientEnabled: boolean | null }>;
  /**
   * Whether the jti is revoked: status()'s revocation read alone, asked when the client's state is
   * already known at the registry's current version. Optional: without it, status() is asked.
   */
  revoked?(jti: string): Promise<boolean>;
  /** Deletes revocations whose expiry is at or before `before`; how many. */
  prune(before: number): Promise<number>;
}

// ---- Replay caches ----

export interface ReplayStorage {
  /**
   * Records a single-use identifier (a client assertion's or a DPoP proof's jti) in `namespace` until
   * `expiresAt`; false when it is already recorded and not expired at `now`: a replay. Atomic, and
   * shared by every instance.
   */
  use(namespace: string, id: string, expiresAt: number, now: number): Promise<boolean>;
}

// ---- Change notification ----

/**
 * How the service learns that the registry may have changed, whoever changed it (another instance,
 * the CLI). The service drops its caches on every announcement.
 */
export interface ChangeFeed {
  /** Calls `listener` whenever something may have changed; returns the unsubscribe function. */
  watch(listener: () => void): () => void;
  /**
   * Synchronous and cheap, asked before any cached answer: true when every change committed up to
   * the feed's staleness bound ago has been announced. SQLite looks at its WAL index here (a new
   * commit is announced before it answers); PostgreSQL answers whether its change counter was
   * confirmed within the bound. False: the service reads through to the storage.
   */
  current(): boolean;
}
