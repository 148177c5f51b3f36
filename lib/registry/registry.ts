import bcrypt from 'bcryptjs';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { setBounded } from '../bounded-map';
import { DEFAULTS } from '../defaults';
import { conflict, invalid, notFound, RegistryError } from '../errors';
import type { AuditEventInput, AuditEvents } from '../events';
import { watchedStorage } from '../metrics/storage';
import { NO_TELEMETRY, type RegistryTelemetry } from '../metrics/telemetry';
import { checkKeySetUrl } from '../remote/key-set-url';
import type { SigningAlgorithm, TokenStatus, TokenStatusSource } from '../tokens';
import { parseClientJwks } from '../tokens/jwk-set';
import { currentKey, firstKeyChange, generateKey, KEY_USE_GRANULARITY_SECONDS, removableKids, rotationChange, toKeyRecord } from './key-lifecycle';
import { isPlaintextKey, KeyProtector, type KeySecrets } from './key-protection';
import {
  assertAcceptableSecret,
  assertAlgorithm,
  assertAuthMethod,
  assertBcryptCost,
  assertClientName,
  assertClientType,
  assertDpopPolicy,
  assertGrantTypes,
  assertGroupName,
  assertLeadSeconds,
  assertOverlap,
  assertResourceUri,
  assertRevocation,
  assertScopes,
  assertTokenTtl,
} from './rules';
import { generateClientId, generateSecret, hashSecret, hashSecretWithSalt } from './secrets';
import type { ClientKeysRow, CredentialsRow, KeyChange, KeyRow, LimiterOptions, PruneCounts, RegistryStorage } from './storage';
import type {
  ClientAuthMethod,
  ClientCredentials,
  ClientKeysSource,
  ClientRecord,
  CreatedClient,
  DpopPolicy,
  GroupRecord,
  KeyRecord,
  NewClient,
  ResourceRecord,
  RevocationInput,
  RewrapResult,
  RotateKeyOptions,
  RotateSecretOptions,
} from './types';

/**
 * `keySecret` encrypts the private signing keys this registry writes (and `previousKeySecrets` only
 * decrypt, during a secret rotation): see key-protection.ts. Without a key secret, new keys are stored
 * as plain PEM; ccgate() and the CLI decide whether that is allowed.
 */
export interface RegistryOptions extends KeySecrets {
  /** bcrypt cost for new secrets (default 10). */
  bcryptCost?: number;
  /** Clock, in Unix seconds; tests pass their own. */
  now?: () => number;
  /** Where the audit events of changes go (client.created, key.rotated, ...); default nowhere. */
  events?: AuditEvents;
  /**
   * Seconds between passes that delete expired revocations, replay entries, throttle rows and keys
   * nobody can need (default 300; 0: never, e.g. for a short-lived process such as the CLI).
   */
  pruneIntervalSeconds?: number;
  /** Where cache hits and misses and failed storage calls are counted (ccgate() passes its metrics); default nowhere. */
  telemetry?: RegistryTelemetry;
  /**
   * Seconds of clock skew the guards allow past a token's exp (default 5): a revocation is kept that
   * much longer, so a revoked token is never accepted again in that last stretch.
   */
  clockToleranceSeconds?: number;
}

/** How a revocation was asked for, for its audit event. */
export interface RevocationContext {
  via?: 'revocation_endpoint' | 'registry';
  requestId?: string;
}

/** Answers remembered between two registry changes (bounded; the oldest go first). */
const MAX_CACHED = 10_000;
/** Compare-and-set retries of a key change that lost a race with another instance. */
const KEY_CHANGE_ATTEMPTS = 8;

const systemNow = (): number => Math.floor(Date.now() / 1000);

const assertKnown = <T>(value: T | null, what: string): T => {
  if (value === null) throw notFound(what);
  return value;
};

/**
 * The registry: every domain rule (validation, ids and secrets, hashing, the signing-key lifecycle,
 * pruning, audit events of changes) over a RegistryStorage that only stores. The issuer, the guard,
 * the CLI and user code all go through it. Reads on the hot paths (token status, client
 * credentials, keys) are cached until the storage's change feed announces a change.
 */
export class Registry implements TokenStatusSource {
  private readonly bcryptCost: number;
  private readonly now: () => number;
  private readonly events: AuditEvents | undefined;
  /** Moves on every announced change (and every write of our own): cached answers carry the value they were read at. */
  private changeCount = 0;
  /** Bumped when the feed cannot vouch for freshness: a number no cache was filled at. */
  private unverified = 0;
  /** While atOneReading runs: the version it read. */
  private reading: number | null = null;
  private readonly statuses = new Map<string, { clientId: string; status: TokenStatus }>();
  /** At statusesVersion too: each client's state (enabled, disabled, or unknown: null), so a new jti of a known client costs one read. */
  private readonly clientStates = new Map<string, boolean | null>();
  private statusesVersion = -1;
  private readonly credentialCache = new Map<string, { credentials: CredentialsRow; until: number }>();
  private credentialsAt = -1;
  private readonly resourceCache = new Map<string, ResourceRecord | null>();
  private resourcesAt = -1;
  private readonly unwatch: () => void;
  private readonly pruneTimer: NodeJS.Timeout | undefined;
  private readonly telemetry: RegistryTelemetry;
  private readonly keyProtector: KeyProtector;
  private readonly tolerance: number;

  constructor(
    private readonly storage: RegistryStorage,
    options: RegistryOptions = {},
  ) {
    this.bcryptCost = options.bcryptCost ?? DEFAULTS.bcryptCost;
    assertBcryptCost(this.bcryptCost);
    this.keyProtector = new KeyProtector(options);
    this.now = options.now ?? systemNow;
    this.events = options.events;
    this.telemetry = options.telemetry ?? NO_TELEMETRY;
    if (options.telemetry) this.storage = watchedStorage(storage, options.telemetry);
    this.tolerance = options.clockToleranceSeconds ?? DEFAULTS.clockToleranceSeconds;
    this.unwatch = storage.changes.watch(() => this.changed());
    const pruneSeconds = options.pruneIntervalSeconds ?? DEFAULTS.pruneIntervalSeconds;
    if (pruneSeconds > 0) {
      this.pruneTimer = setInterval(() => void this.pruneExpired().catch(() => undefined), pruneSeconds * 1000);
      this.pruneTimer.unref();
    }
  }

  /** Connects and migrates the storage (every other call waits for it too); throws while the database is unreachable. */
  ready(): Promise<void> {
    return this.storage.open();
  }

  /** Resolves when the database answers now (a readiness check). */
  ping(): Promise<void> {
    return this.storage.ping();
  }

  /**
   * A number that moves whenever the registry may have changed: cheap and synchronous, for callers
   * that cache what they read (the keyring). While the change feed cannot vouch for freshness it is
   * new at every call, so nothing is served from a cache.
   */
  version(): number {
    if (this.reading !== null) return this.reading;
    if (!this.storage.changes.current()) return -++this.unverified;
    return this.changeCount;
  }

  /**
   * Runs synchronous `work` with version() answering one reading, taken as `work` starts: the guard's
   * answer from memory (the keys' freshness, then the token's status) costs one look at the change
   * feed, not one per check. Synchronous only, so the reading never outlives the request it was taken
   * for: no other request can be handled (nor any write of ours complete) while `work` runs.
   */
  atOneReading<T>(work: () => T): T {
    if (this.reading !== null) return work();
    this.reading = this.version();
    try {
      return work();
    } finally {
      this.reading = null;
    }
  }

  /** Calls `listener` after every change this registry hears of; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    return this.storage.changes.watch(listener);
  }

  // ---- Groups ----

  async createGroup(name: string, scopes: string[]): Promise<GroupRecord> {
    assertGroupName(name);
    assertScopes(scopes);
    const group = await this.write(this.storage.groups.insert(name, [...new Set(scopes)], this.now()));
    if (group === 'exists') throw conflict(`group "${name}" already exists`);
    this.emit({ type: 'group.created', name, scopes: group.scopes });
    return group;
  }

  listGroups(): Promise<GroupRecord[]> {
    return this.storage.groups.list();
  }

  getGroup(name: string): Promise<GroupRecord | null> {
    return this.storage.groups.get(name);
  }

  async addGroupScopes(name: string, scopes: string[]): Promise<GroupRecord> {
    assertScopes(scopes);
    const group = assertKnown(await this.write(this.storage.groups.addScopes(name, [...new Set(scopes)])), `group "${name}"`);
    this.emit({ type: 'group.updated', name, scopes: group.scopes });
    return group;
  }

  async removeGroupScopes(name: string, scopes: string[]): Promise<GroupRecord> {
    const result = assertKnown(await this.write(this.storage.groups.removeScopes(name, [...new Set(scopes)])), `group "${name}"`);
    if ('missing' in result) throw notFound(`scope ${quoted(result.missing)} in group "${name}"`);
    this.emit({ type: 'group.updated', name, scopes: result.scopes });
    return result;
  }

  /** Refuses while clients are members unless `force`. */
  async deleteGroup(name: string, options: { force?: boolean } = {}): Promise<void> {
    const result = await this.write(this.storage.groups.delete(name, options.force === true));
    if (result === 'not_found') throw notFound(`group "${name}"`);
    if (result !== 'deleted') throw conflict(`group "${name}" still has ${result.inUse} client(s); remove them first or force`);
    this.emit({ type: 'group.deleted', name });
  }

  /** Every scope some group holds (RFC 8414 scopes_supported). */
  listScopes(): Promise<string[]> {
    return this.storage.groups.listScopes();
  }

  // ---- Clients ----

  async createClient(input: NewClient): Promise<CreatedClient> {
    const type = input.type ?? 'confidential';
    const grantTypes = input.grantTypes ?? ['client_credentials'];
    const authMethod = input.authMethod ?? 'client_secret_basic';
    const dpop = input.dpop ?? 'allowed';
    assertClientName(input.name);
    assertClientType(type);
    assertGrantTypes(grantTypes);
    assertTokenTtl(input.tokenTtl);
    assertAuthMethod(authMethod);
    assertDpopPolicy(dpop);
    const groups = [...new Set(input.groups ?? [])];
    if (type === 'public' && input.secret !== undefined) throw invalid('a public client has no secret');
    if (input.secret !== undefined) assertAcceptableSecret(input.secret);
    const keys = authMethod === 'private_key_jwt' ? keysOfNewClient(input, type) : noKeys(input);
    const clientSecret = type === 'public' || authMethod === 'private_key_jwt' ? null : (input.secret ?? generateSecret());
    // Hashed before the write: the transaction itself stays short and all-or-nothing.
    const secretHash = clientSecret === null ? null : await hashSecret(clientSecret, this.bcryptCost);
    const row = {
      clientId: generateClientId(),
      name: input.name,
      type,
      grantTypes,
      tokenTtl: input.tokenTtl ?? null,
      groups,
      authMethod,
      secretHash,
      ...keys,
      dpop,
      createdAt: this.now(),
    };
    const client = await this.write(this.storage.clients.insert(row));
    if ('unknownGroup' in client) throw notFound(`group "${client.unknownGroup}"`);
    this.emit({ type: 'client.created', clientId: client.clientId, name: client.name, groups: client.groups });
    return { client, clientSecret };
  }

  /**
   * A private_key_jwt client's new public keys, replacing the old ones at once (a key rollover: list
   * the old and the new key in one set while assertions signed with either may still arrive).
   */
  async setClientJwks(clientId: string, source: ClientKeysSource): Promise<ClientRecord> {
    const current = assertKnown(await this.storage.clients.get(clientId, this.now()), `client "${clientId}"`);
    if (current.authMethod !== 'private_key_jwt') throw invalid(`client "${clientId}" authenticates with ${current.authMethod}, not private_key_jwt`);
    const keys = validatedKeys(source);
    const client = assertKnown(await this.write(this.storage.clients.setKeys(clientId, keys, this.now())), `client "${clientId}"`);
    this.emit({ type: 'client.keys_changed', clientId, kids: keys.jwks?.keys.map((k) => k.kid) ?? [], jwksUri: keys.jwksUri });
    return client;
  }

  /**
   * Whether the client's token requests must carry a DPoP proof (RFC 9449 §5.2): `required` refuses
   * its requests without one from the next request on, on every instance; `allowed` accepts both.
   * Tokens already issued keep what they are (bound or not).
   */
  async setClientDpop(clientId: string, dpop: DpopPolicy): Promise<ClientRecord> {
    assertDpopPolicy(dpop);
    const client = assertKnown(await this.write(this.storage.clients.setPolicy(clientId, { dpop }, this.now())), `client "${clientId}"`);
    this.emit({ type: 'client.dpop_changed', clientId, dpop });
    return client;
  }

  /**
   * Switches a secret client between client_secret_basic and client_secret_post (RFC 6749 §2.3.1: it
   * may then use only the new one). To or from private_key_jwt the credentials themselves change:
   * create a new client instead.
   */
  async setClientAuthMethod(clientId: string, authMethod: ClientAuthMethod): Promise<ClientRecord> {
    assertAuthMethod(authMethod);
    const current = assertKnown(await this.storage.clients.get(clientId, this.now()), `client "${clientId}"`);
    if (authMethod === 'private_key_jwt' || current.authMethod === 'private_key_jwt') {
      throw invalid('only a secret client switches between client_secret_basic and client_secret_post; for private_key_jwt create a new client');
    }
    if (current.type !== 'confidential') throw invalid(`client "${clientId}" is public and has no secret`);
    const client = assertKnown(await this.write(this.storage.clients.setPolicy(clientId, { authMethod }, this.now())), `client "${clientId}"`);
    this.emitClientUpdated(client);
    return client;
  }

  listClients(): Promise<ClientRecord[]> {
    return this.storage.clients.list(this.now());
  }

  getClient(clientId: string): Promise<ClientRecord | null> {
    return this.storage.clients.get(clientId, this.now());
  }

  async setClientEnabled(clientId: string, enabled: boolean): Promise<ClientRecord> {
    const client = assertKnown(await this.write(this.storage.clients.setEnabled(clientId, enabled, this.now())), `client "${clientId}"`);
    this.emitClientUpdated(client);
    return client;
  }

  /**
   * A new secret, shown once. With `overlapSeconds` the previous one stays valid until then, and the
   * new one is hashed with the previous one's salt (and cost): one bcrypt run then checks a
   * presented secret against both, so a wrong secret costs the same, and takes the same time,
   * whether or not a rotation is under way.
   */
  async rotateClientSecret(clientId: string, options: RotateSecretOptions = {}): Promise<CreatedClient> {
    const overlapSeconds = options.overlapSeconds ?? 0;
    assertOverlap(overlapSeconds);
    if (options.secret !== undefined) assertAcceptableSecret(options.secret);
    const current = assertKnown(await this.storage.clients.credentials(clientId, this.now()), `client "${clientId}"`);
    if (current.type !== 'confidential') throw invalid(`client "${clientId}" is public and has no secret`);
    if (current.authMethod === 'private_key_jwt')
      throw invalid(
        `client "${clientId}" authenticates with private_key_jwt and has no secret: replace its keys instead (setClientJwks, ccgate client set-jwks)`,
      );
    const currentHash = current.secrets.find((s) => s.expiresAt === null)?.hash;
    if (options.secret !== undefined && currentHash !== undefined && (await bcrypt.compare(options.secret, currentHash))) {
      throw invalid('the new secret is the current one: a rotation needs a different secret');
    }
    const clientSecret = options.secret ?? generateSecret();
    const hash = overlapSeconds > 0 && currentHash ? await hashSecretWithSalt(clientSecret, currentHash) : await hashSecret(clientSecret, this.bcryptCost);
    const client = assertKnown(await this.write(this.storage.clients.replaceSecret(clientId, hash, overlapSeconds, this.now())), `client "${clientId}"`);
    this.emit({ type: 'secret.rotated', clientId, overlapSeconds });
    return { client, clientSecret };
  }

  async deleteClient(clientId: string): Promise<void> {
    if (!(await this.write(this.storage.clients.delete(clientId)))) throw notFound(`client "${clientId}"`);
    this.emit({ type: 'client.deleted', clientId });
  }

  async addClientGroups(clientId: string, groups: string[]): Promise<ClientRecord> {
    const result = assertKnown(await this.write(this.storage.clients.addGroups(clientId, [...new Set(groups)], this.now())), `client "${clientId}"`);
    if ('unknownGroup' in result) throw notFound(`group "${result.unknownGroup}"`);
    this.emitClientUpdated(result);
    return result;
  }

  async removeClientGroups(clientId: string, groups: string[]): Promise<ClientRecord> {
    const result = assertKnown(await this.write(this.storage.clients.removeGroups(clientId, [...new Set(groups)], this.now())), `client "${clientId}"`);
    if ('notMember' in result) throw notFound(`membership of client "${clientId}" in group ${quoted(result.notMember)}`);
    this.emitClientUpdated(result);
    return result;
  }

  /**
   * What client authentication needs (null for an unknown id), cached until the registry changes and
   * never past the end of an overlapping secret.
   */
  async findClientCredentials(clientId: string): Promise<ClientCredentials | null> {
    const at = this.version();
    const now = this.now();
    if (at !== this.credentialsAt) {
      this.credentialCache.clear();
      this.credentialsAt = at;
    }
    const cached = this.credentialCache.get(clientId);
    this.telemetry.clientCredentialsCache.lookup(cached !== undefined && cached.until > now);
    if (cached && cached.until > now) return toCredentials(cached.credentials, now);
    const row = await this.storage.clients.credentials(clientId, now);
    if (row === null) return null;
    // Filled only if nothing changed while we read: a change announced meanwhile may postdate the read.
    if (this.version() === at) setBounded(this.credentialCache, clientId, { credentials: row, until: firstExpiry(row) }, MAX_CACHED);
    return toCredentials(row, now);
  }

  // ---- Resources (RFC 8707) ----

  async createResource(uri: string, scopes: string[]): Promise<ResourceRecord> {
    assertResourceUri(uri);
    assertScopes(scopes);
    const resource = await this.write(this.storage.resources.insert(uri, [...new Set(scopes)], this.now()));
    if (resource === 'exists') throw conflict(`resource "${uri}" already exists`);
    this.emit({ type: 'resource.created', uri, scopes: resource.scopes });
    return resource;
  }

  listResources(): Promise<ResourceRecord[]> {
    return this.storage.resources.list();
  }

  getResource(uri: string): Promise<ResourceRecord | null> {
    return this.storage.resources.get(uri);
  }

  async addResourceScopes(uri: string, scopes: string[]): Promise<ResourceRecord> {
    assertScopes(scopes);
    const resource = assertKnown(await this.write(this.storage.resources.addScopes(uri, [...new Set(scopes)], this.now())), `resource "${uri}"`);
    this.emit({ type: 'resource.updated', uri, scopes: resource.scopes });
    return resource;
  }

  async removeResourceScopes(uri: string, scopes: string[]): Promise<ResourceRecord> {
    const result = assertKnown(await this.write(this.storage.resources.removeScopes(uri, [...new Set(scopes)], this.now())), `resource "${uri}"`);
    if ('missing' in result) throw notFound(`scope ${quoted(result.missing)} of resource "${uri}"`);
    this.emit({ type: 'resource.updated', uri, scopes: result.scopes });
    return result;
  }

  async deleteResource(uri: string): Promise<void> {
    if (!(await this.write(this.storage.resources.delete(uri)))) throw notFound(`resource "${uri}"`);
    this.emit({ type: 'resource.deleted', uri });
  }

  /** The resource a token request names (null: not registered), cached until the registry changes: it is read on every such request. */
  async findResource(uri: string): Promise<ResourceRecord | null> {
    const at = this.version();
    if (at !== this.resourcesAt) {
      this.resourceCache.clear();
      this.resourcesAt = at;
    }
    const cached = this.resourceCache.get(uri);
    if (cached !== undefined) return cached;
    const resource = await this.storage.resources.get(uri);
    if (this.version() === at) setBounded(this.resourceCache, uri, resource, MAX_CACHED);
    return resource;
  }

  // ---- Tokens ----

  async revokeToken(input: RevocationInput, context: RevocationContext = {}): Promise<void> {
    assertRevocation(input.jti, input.expiresAt);
    const clientId = input.clientId ?? null;
    await this.write(this.storage.revocations.insert({ jti: input.jti, clientId, expiresAt: input.expiresAt }, this.now()));
    this.emit({ type: 'token.revoked', clientId, jti: input.jti, via: context.via ?? 'registry', requestId: context.requestId });
  }

  /**
   * Asked by the guard on every request. Answers are reused until the registry changes: a revoke,
   * disable or delete by any process (the CLI, another instance) is announced by the change feed.
   */
  tokenStatus(jti: string, clientId: string): Promise<TokenStatus> {
    return this.statusAt(jti, clientId, this.version());
  }

  /** version(), for tokenStatusAt: inside atOneReading, the reading it took. */
  changeReading(): number {
    return this.version();
  }

  /**
   * tokenStatus at a reading taken earlier (by the guard, while handling the request) when no change
   * was announced since (changeCount is still that reading): no second look at the change feed. Else
   * a fresh look, as tokenStatus.
   */
  tokenStatusAt(jti: string, clientId: string, reading: number): Promise<TokenStatus> {
    return this.statusAt(jti, clientId, reading === this.changeCount ? reading : this.version());
  }

  /** The status at version `at` (read before anything else, so the answer is at least that fresh). */
  private async statusAt(jti: string, clientId: string, at: number): Promise<TokenStatus> {
    const known = this.statusesAt(at).get(jti);
    // Keyed by jti (unique per token); the client is compared, not concatenated into the key.
    const hit = known !== undefined && known.clientId === clientId;
    this.telemetry.tokenStatusCache.lookup(hit);
    if (hit) return known.status;
    const clientState = this.clientStates.get(clientId);
    const { revocations } = this.storage;
    const row =
      clientState === undefined || revocations.revoked === undefined
        ? await revocations.status(jti, clientId)
        : { revoked: await revocations.revoked(jti), clientEnabled: clientState };
    const status: TokenStatus = row.revoked ? 'revoked' : row.clientEnabled === null ? 'client_unknown' : row.clientEnabled ? 'active' : 'client_disabled';
    // The version was read before the query, so the answer is at least that fresh. It is remembered
    // only if no change was announced meanwhile (then the map belongs to a newer version) and the feed
    // vouched for `at` (a version that is not changeCount is one no cache is filled at). A commit the
    // feed has not announced yet is found by the next version() read, which empties the map.
    if (at === this.changeCount && at === this.statusesVersion) {
      setBounded(this.statuses, jti, { clientId, status }, MAX_CACHED);
      if (clientState === undefined) setBounded(this.clientStates, clientId, row.clientEnabled, MAX_CACHED);
    }
    return status;
  }

  /**
   * tokenStatus's answer when it is remembered at the registry's current version (synchronous, no
   * I/O but the change feed's look); undefined: ask tokenStatus. Counted as a cache hit when it answers.
   */
  knownStatus(jti: string, clientId: string): TokenStatus | undefined {
    const known = this.statusesAt(this.version()).get(jti);
    if (known === undefined || known.clientId !== clientId) return undefined;
    this.telemetry.tokenStatusCache.lookup(true);
    return known.status;
  }

  /** The statuses remembered at version `at`: a new version starts with none. */
  private statusesAt(at: number): Map<string, { clientId: string; status: TokenStatus }> {
    if (at !== this.statusesVersion) {
      this.statuses.clear();
      this.clientStates.clear();
      this.statusesVersion = at;
    }
    return this.statuses;
  }

  /** Drops revocations of tokens that have expired, clock tolerance included; returns how many. */
  pruneRevocations(now = this.now()): Promise<number> {
    return this.write(this.storage.revocations.prune(now - this.tolerance));
  }

  /**
   * Records a single-use identifier (a client assertion's or DPoP proof's jti) until `expiresAt`:
   * false when it was seen before (a replay), on any instance sharing this registry.
   */
  useOnce(namespace: string, id: string, expiresAt: number): Promise<boolean> {
    // Rounded up to whole seconds: the times come from JWTs, whose NumericDate may be fractional (RFC 7519 §2).
    return this.storage.replay.use(namespace, id, Math.ceil(expiresAt), this.now());
  }

  /** A counter family for the failure throttle, shared by every instance on this storage. */
  limiter(options: LimiterOptions): RateLimiterAbstract {
    return this.storage.limiter(options);
  }

  // ---- Signing keys ----

  async listKeys(): Promise<KeyRecord[]> {
    const now = this.now();
    return (await this.storage.keys.list()).map((row) => toKeyRecord(row, now));
  }

  /** The key that signs now for `alg`, creating one on first use (several instances at once keep one). */
  async ensureSigningKey(alg: SigningAlgorithm): Promise<KeyRecord> {
    assertAlgorithm(alg);
    let generated: KeyRow | undefined;
    return this.changeKeys(alg, async (rows, now) => {
      const current = currentKey(rows, alg, now);
      if (current) return { result: toKeyRecord(current, now) };
      generated ??= await this.generateSealedKey(alg, now);
      const change = firstKeyChange(rows, generated, now);
      return { change, result: change.insert, created: true };
    });
  }

  /** Adds a key that signs after `leadSeconds` and retires the current one then. */
  async rotateKey(options: RotateKeyOptions): Promise<KeyRecord> {
    assertAlgorithm(options.alg);
    const leadSeconds = options.leadSeconds ?? 0;
    assertLeadSeconds(leadSeconds);
    const generated = await this.generateSealedKey(options.alg, this.now());
    const key = await this.changeKeys(options.alg, (rows, now) => {
      const change = rotationChange(rows, generated, leadSeconds, now);
      return Promise.resolve({ change, result: change.insert });
    });
    this.emit({ type: 'key.rotated', kid: key.kid, alg: key.alg, activatesAt: key.activatesAt });
    return key;
  }

  /**
   * A leaked key, killed at once: deleted from the registry (its private half destroyed with it), so
   * it leaves the JWKS and every keyring on this registry at its next change notification, and
   * tokens it signed fail at the next request to a local guard or introspection. If it was signing,
   * the next token gets a new key. Not undone by anything but restoring an older backup.
   */
  async revokeKey(kid: string): Promise<KeyRecord> {
    const now = this.now();
    const row = (await this.storage.keys.list()).find((k) => k.kid === kid);
    if (!row || (await this.write(this.storage.keys.delete([kid]))) === 0) throw notFound(`signing key "${kid}"`);
    const record = toKeyRecord(row, now);
    this.emit({ type: 'key.revoked', kid, alg: row.alg, status: record.status });
    return record;
  }

  /** Id of the key secret new keys are encrypted under; null without one (new keys stored as plain PEM). */
  get keySecretId(): string | null {
    return this.keyProtector.currentId;
  }

  /**
   * The PEM of a stored key's private half, decrypted with the configured secrets: only signing
   * needs it. KeyProtectionError when the key is encrypted under a secret this registry lacks.
   */
  openPrivateKey(key: Pick<KeyRecord, 'kid' | 'privateKeyPem'>): string {
    return this.keyProtector.open(key.kid, key.privateKeyPem);
  }

  /**
   * Re-encrypts every stored private key under the current key secret: plain PEM rows (from before
   * encryption, or written without a secret) are encrypted, rows under a previous secret get their
   * data key rewrapped. Every row is opened before anything is written, so a key no configured
   * secret opens stops the whole rewrap (KeyProtectionError; revoke that key if its secret is lost).
   */
  async rewrapKeys(): Promise<RewrapResult> {
    const keySecretId = this.keyProtector.currentId;
    if (keySecretId === null) throw invalid('no key secret to encrypt under: set CCGATE_KEY_SECRET (the keySecret option)');
    const plan = (await this.storage.keys.list()).map((row) => ({ row, next: this.keyProtector.rewrap(row.kid, row.privateKeyPem) }));
    const result: RewrapResult = { keySecretId, rewrapped: [], encrypted: [], unchanged: [] };
    for (const { row, next } of plan) {
      if (next === null) result.unchanged.push(row.kid);
      // A row changed meanwhile (revoked, or rewrapped by another process) is left as it now is.
      else if (await this.write(this.storage.keys.replacePrivateKey(row.kid, row.privateKeyPem, next))) {
        (isPlaintextKey(row.privateKeyPem) ? result.encrypted : result.rewrapped).push(row.kid);
      }
    }
    this.emit({ type: 'key.rewrapped', keySecretId, kids: [...result.rewrapped, ...result.encrypted] });
    return result;
  }

  /** Records that `kid` signed a token valid until `exp` (so its retirement waits for it). */
  recordKeyUse(kid: string, exp: number): Promise<void> {
    return this.write(this.storage.keys.recordUse(kid, exp + KEY_USE_GRANULARITY_SECONDS));
  }

  /** Removes retired keys whose last token has expired; returns how many. */
  async pruneKeys(now = this.now()): Promise<number> {
    const kids = removableKids(await this.storage.keys.list(), now);
    if (kids.length === 0) return 0;
    const removed = await this.write(this.storage.keys.delete(kids));
    this.emit({ type: 'key.removed', kids });
    return removed;
  }

  /** One pass of the prune timer: expired revocations, replay entries, throttle rows, dead keys. */
  async pruneExpired(now = this.now()): Promise<PruneCounts & { keys: number }> {
    const counts = (await this.storage.prune({ revocations: now - this.tolerance, replay: now })) ?? { revocations: 0, replay: 0, throttle: 0 };
    if (counts.revocations > 0) this.changed();
    return { ...counts, keys: await this.pruneKeys(now) };
  }

  /** Stops the prune timer and closes the storage. */
  async close(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.unwatch();
    await this.storage.close();
  }

  // ---- Internals ----

  /**
   * Reads the keys of `alg`, lets `decide` compute a change, and applies it only if those keys are
   * still what was read (compare-and-set): concurrent rotations or first starts on several
   * instances never leave two active keys. A lost race reads again and decides again.
   */
  private async changeKeys(
    alg: SigningAlgorithm,
    decide: (rows: KeyRow[], now: number) => Promise<{ change?: KeyChange; result: KeyRow | KeyRecord | null; created?: boolean }>,
  ): Promise<KeyRecord> {
    for (let attempt = 0; attempt < KEY_CHANGE_ATTEMPTS; attempt++) {
      const now = this.now();
      const { change, result, created } = await decide(await this.storage.keys.list(), now);
      if (result === null) break;
      if (!change || (await this.write(this.storage.keys.apply(change)))) {
        if (created) this.emit({ type: 'key.created', kid: result.kid, alg });
        return toKeyRecord(result, now);
      }
    }
    throw new RegistryError('conflict', `the ${alg} signing keys kept changing during the update; try again`);
  }

  /** A fresh key pair whose private half is stored encrypted under the current key secret (if any). */
  private async generateSealedKey(alg: SigningAlgorithm, now: number): Promise<KeyRow> {
    const key = await generateKey(alg, now);
    return { ...key, privateKeyPem: this.keyProtector.seal(key.kid, key.privateKeyPem) };
  }

  /** Awaits a write, then drops every cache at once: our own change is visible to our next read. */
  private async write<T>(pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } finally {
      this.changed();
    }
  }

  private changed(): void {
    this.changeCount++;
  }

  private emitClientUpdated(client: ClientRecord): void {
    this.emit({ type: 'client.updated', clientId: client.clientId, enabled: client.enabled, groups: client.groups });
  }

  private emit(event: AuditEventInput): void {
    this.events?.emit(event);
  }
}

const quoted = (names: string[]): string => names.map((n) => `"${n}"`).join(', ');

/** The end of the earliest overlapping secret: the cached row is wrong from then on. */
function firstExpiry(row: CredentialsRow): number {
  return Math.min(...row.secrets.map((s) => s.expiresAt ?? Infinity));
}

/** A private_key_jwt client's keys, checked: exactly one of a JWK Set (public keys only) and a jwks_uri. */
function validatedKeys(source: { jwks?: unknown; jwksUri?: string }): ClientKeysRow {
  if ((source.jwks === undefined) === (source.jwksUri === undefined)) throw invalid('a private_key_jwt client needs exactly one of jwks and jwksUri');
  if (source.jwksUri !== undefined) {
    // Registration accepts a loopback http URL; whether it is ever fetched is the issuer's option (allowHttpJwksUri).
    const checked = checkKeySetUrl(source.jwksUri, { allowHttpLoopback: true });
    if (!checked.ok) throw invalid(`jwks_uri: ${checked.error}`);
    return { jwks: null, jwksUri: checked.url };
  }
  const parsed = parseClientJwks(source.jwks);
  if (!parsed.ok) throw invalid(`jwks: ${parsed.error}`);
  return { jwks: parsed.jwks, jwksUri: null };
}

function keysOfNewClient(input: NewClient, type: string): ClientKeysRow {
  if (type !== 'confidential') throw invalid('a private_key_jwt client is confidential');
  if (input.secret !== undefined) throw invalid('a private_key_jwt client has no secret');
  return validatedKeys(input);
}

function noKeys(input: NewClient): ClientKeysRow {
  if (input.jwks !== undefined || input.jwksUri !== undefined) throw invalid('only a private_key_jwt client registers keys (jwks, jwksUri)');
  return { jwks: null, jwksUri: null };
}

function toCredentials(row: CredentialsRow, now: number): ClientCredentials {
  return {
    clientId: row.clientId,
    type: row.type,
    grantTypes: row.grantTypes,
    tokenTtl: row.tokenTtl,
    enabled: row.enabled,
    authMethod: row.authMethod,
    jwks: row.jwks,
    jwksUri: row.jwksUri,
    dpop: row.dpop,
    scopes: row.scopes,
    secretHashes: row.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.hash),
  };
}
