import type Database from 'better-sqlite3';
import { setBounded } from '../bounded-map';
import { WalChangeDetector } from './change-detector';
import { Clients } from './clients';
import { openDatabase, type OpenOptions } from './database';
import { invalid } from '../errors';
import { Groups } from './groups';
import { assertAlgorithm, assertLeadSeconds, generateKey, Keys } from './keys';
import { Revocations } from './revocations';
import { DEFAULTS } from '../defaults';
import { assertAcceptableSecret, assertBcryptCost, generateClientId, generateSecret, hashSecret } from './secrets';
import type { RegistryStore } from './store';
import type {
  ClientCredentials,
  ClientRecord,
  CreatedClient,
  GroupRecord,
  KeyRecord,
  NewClient,
  RevocationInput,
  RotateKeyOptions,
  RotateSecretOptions,
} from './types';
import type { SigningAlgorithm, TokenStatus } from '../tokens';

export interface SqliteRegistryOptions extends OpenOptions {
  /** bcrypt cost for new secrets (default 10). */
  bcryptCost?: number;
  /** Clock, in Unix seconds; tests pass their own. */
  now?: () => number;
}

/** Token statuses remembered between two registry changes. */
const MAX_CACHED_STATUSES = 10_000;

const systemNow = (): number => Math.floor(Date.now() / 1000);

/** The SQLite registry: one file, shared safely by the server and the CLI. */
export class SqliteRegistry implements RegistryStore {
  readonly db: Database.Database;
  private readonly groups: Groups;
  private readonly clients: Clients;
  private readonly revocations: Revocations;
  private readonly keys: Keys;
  private readonly bcryptCost: number;
  private readonly now: () => number;
  private readonly dataVersion;
  private localWrites = 0;
  /** Commit detection without SQL (null: not available, query every time). */
  private readonly changes: WalChangeDetector | null;
  /** Token statuses answered since the registry last changed: reused until any process commits. */
  private readonly statuses = new Map<string, { clientId: string; status: TokenStatus }>();
  private statusesVersion = -1;

  constructor(path: string, options: SqliteRegistryOptions = {}) {
    this.bcryptCost = options.bcryptCost ?? DEFAULTS.bcryptCost;
    assertBcryptCost(this.bcryptCost);
    this.now = options.now ?? systemNow;
    this.db = openDatabase(path, options);
    this.groups = new Groups(this.db);
    this.clients = new Clients(this.db, this.groups);
    this.revocations = new Revocations(this.db);
    this.keys = new Keys(this.db);
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.changes = path === ':memory:' ? null : WalChangeDetector.open(path);
  }

  /** Runs fn in one IMMEDIATE transaction (taking the write lock up front avoids upgrade deadlocks). */
  private write<T>(fn: () => T): Promise<T> {
    return this.run(() => {
      const result = this.db.transaction(fn).immediate();
      this.localWrites++;
      return result;
    });
  }

  /** Turns synchronous results and throws into a settled Promise, per the store interface. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  createGroup(name: string, scopes: string[]): Promise<GroupRecord> {
    return this.write(() => this.groups.create(name, scopes, this.now()));
  }
  listGroups(): Promise<GroupRecord[]> {
    return this.run(() => this.groups.list());
  }
  getGroup(name: string): Promise<GroupRecord | null> {
    return this.run(() => this.groups.get(name));
  }
  addGroupScopes(name: string, scopes: string[]): Promise<GroupRecord> {
    return this.write(() => this.groups.addScopes(name, scopes));
  }
  removeGroupScopes(name: string, scopes: string[]): Promise<GroupRecord> {
    return this.write(() => this.groups.removeScopes(name, scopes));
  }
  deleteGroup(name: string, options: { force?: boolean } = {}): Promise<void> {
    return this.write(() => this.groups.delete(name, options.force === true));
  }
  listScopes(): Promise<string[]> {
    return this.run(() => this.groups.allScopes());
  }

  async createClient(input: NewClient): Promise<CreatedClient> {
    const isPublic = input.type === 'public';
    if (isPublic && input.secret !== undefined) throw invalid('a public client has no secret');
    if (input.secret !== undefined) assertAcceptableSecret(input.secret);
    const clientSecret = isPublic ? null : (input.secret ?? generateSecret());
    // Hash before the transaction: the write itself stays short and all-or-nothing.
    const hash = clientSecret === null ? null : await hashSecret(clientSecret, this.bcryptCost);
    const client = await this.write(() => this.clients.create(generateClientId(), input, hash, this.now()));
    return { client, clientSecret };
  }
  listClients(): Promise<ClientRecord[]> {
    return this.run(() => this.clients.list(this.now()));
  }
  getClient(clientId: string): Promise<ClientRecord | null> {
    return this.run(() => this.clients.get(clientId, this.now()));
  }
  setClientEnabled(clientId: string, enabled: boolean): Promise<ClientRecord> {
    return this.write(() => this.clients.setClientEnabled(clientId, enabled, this.now()));
  }
  async rotateClientSecret(clientId: string, options: RotateSecretOptions = {}): Promise<CreatedClient> {
    const overlap = options.overlapSeconds ?? 0;
    if (!Number.isInteger(overlap) || overlap < 0) throw invalid('overlap must be a whole number of seconds ≥ 0');
    if (options.secret !== undefined) assertAcceptableSecret(options.secret);
    const clientSecret = options.secret ?? generateSecret();
    const hash = await hashSecret(clientSecret, this.bcryptCost);
    const client = await this.write(() => this.clients.replaceSecret(clientId, hash, overlap, this.now()));
    return { client, clientSecret };
  }
  deleteClient(clientId: string): Promise<void> {
    return this.write(() => this.clients.delete(clientId, this.now()));
  }
  addClientGroups(clientId: string, groups: string[]): Promise<ClientRecord> {
    return this.write(() => this.clients.addGroups(clientId, groups, this.now()));
  }
  removeClientGroups(clientId: string, groups: string[]): Promise<ClientRecord> {
    return this.write(() => this.clients.removeGroups(clientId, groups, this.now()));
  }
  findClientCredentials(clientId: string): Promise<ClientCredentials | null> {
    return this.run(() => this.clients.credentials(clientId, this.now()));
  }

  revokeToken(input: RevocationInput): Promise<void> {
    return this.write(() => this.revocations.revoke(input, this.now()));
  }
  /**
   * Asked by the guard on every request. A revoke, disable or delete by any process (the CLI
   * included) is a commit, which the change detector sees, so a cached answer is never stale.
   */
  tokenStatus(jti: string, clientId: string): Promise<TokenStatus> {
    return this.run(() => {
      if (!this.changes) return this.revocations.tokenStatus(jti, clientId);
      const version = this.changes.version();
      if (version !== this.statusesVersion) {
        this.statuses.clear();
        this.statusesVersion = version;
      }
      // Keyed by jti (unique per token); the client is compared, not concatenated into the key.
      const known = this.statuses.get(jti);
      if (known !== undefined && known.clientId === clientId) return known.status;
      const status = this.revocations.tokenStatus(jti, clientId);
      setBounded(this.statuses, jti, { clientId, status }, MAX_CACHED_STATUSES);
      return status;
    });
  }
  pruneRevocations(now = this.now()): Promise<number> {
    return this.write(() => this.revocations.pruneExpired(now));
  }

  listKeys(): Promise<KeyRecord[]> {
    return this.run(() => this.keys.list(this.now()));
  }
  async ensureSigningKey(alg: SigningAlgorithm): Promise<KeyRecord> {
    assertAlgorithm(alg);
    const existing = this.keys.current(alg, this.now());
    if (existing) return existing;
    const key = await generateKey(alg);
    // Checked again inside the write lock: two processes starting at once keep one key.
    return this.write(() => this.keys.current(alg, this.now()) ?? this.keys.addFirst(key, this.now()));
  }
  async rotateKey(options: RotateKeyOptions): Promise<KeyRecord> {
    assertAlgorithm(options.alg);
    const leadSeconds = options.leadSeconds ?? 0;
    assertLeadSeconds(leadSeconds);
    const key = await generateKey(options.alg);
    return this.write(() => this.keys.add(key, leadSeconds, this.now()));
  }
  recordKeyUse(kid: string, exp: number): Promise<void> {
    return this.write(() => this.keys.recordKeyUse(kid, exp));
  }
  pruneKeys(now = this.now()): Promise<number> {
    return this.write(() => this.keys.prune(now));
  }

  changeStamp(): Promise<number> {
    return this.run(() => (this.changes ? this.changes.version() : (this.dataVersion.get() as number) + this.localWrites));
  }

  close(): Promise<void> {
    return this.run(() => {
      this.changes?.close();
      if (this.db.open) this.db.close();
    });
  }
}
