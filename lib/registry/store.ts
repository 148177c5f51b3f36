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

/**
 * The registry as the rest of ccgate sees it. Every method returns a Promise, even though the SQLite
 * backend is synchronous, so a networked backend can implement the same interface unchanged.
 * Every write is one transaction: it happens whole or not at all. Refusals are RegistryErrors.
 */
export interface RegistryStore {
  // Groups: named sets of scopes.
  createGroup(name: string, scopes: string[]): Promise<GroupRecord>;
  listGroups(): Promise<GroupRecord[]>;
  getGroup(name: string): Promise<GroupRecord | null>;
  addGroupScopes(name: string, scopes: string[]): Promise<GroupRecord>;
  removeGroupScopes(name: string, scopes: string[]): Promise<GroupRecord>;
  /** Refuses while clients are members unless `force`. */
  deleteGroup(name: string, options?: { force?: boolean }): Promise<void>;
  /** Every scope some group holds (RFC 8414 scopes_supported). */
  listScopes(): Promise<string[]>;

  // Clients.
  createClient(input: NewClient): Promise<CreatedClient>;
  listClients(): Promise<ClientRecord[]>;
  getClient(clientId: string): Promise<ClientRecord | null>;
  setClientEnabled(clientId: string, enabled: boolean): Promise<ClientRecord>;
  rotateClientSecret(clientId: string, options?: RotateSecretOptions): Promise<CreatedClient>;
  deleteClient(clientId: string): Promise<void>;
  addClientGroups(clientId: string, groups: string[]): Promise<ClientRecord>;
  removeClientGroups(clientId: string, groups: string[]): Promise<ClientRecord>;
  /** What client authentication needs; null for an unknown id. */
  findClientCredentials(clientId: string): Promise<ClientCredentials | null>;

  // Tokens.
  revokeToken(input: RevocationInput): Promise<void>;
  /** Revocation and client state of a validly signed token. */
  tokenStatus(jti: string, clientId: string): Promise<TokenStatus>;
  /** Drops revocations of tokens that have expired; returns how many. */
  pruneRevocations(now?: number): Promise<number>;

  // Signing keys.
  listKeys(): Promise<KeyRecord[]>;
  /** The key that signs now for `alg`, creating and persisting one on first use. */
  ensureSigningKey(alg: SigningAlgorithm): Promise<KeyRecord>;
  /** Adds a new key that starts signing after `leadSeconds` and retires the current one then. */
  rotateKey(options: RotateKeyOptions): Promise<KeyRecord>;
  /** Records that `kid` signed a token valid until `exp` (so its retirement waits for it). */
  recordKeyUse(kid: string, exp: number): Promise<void>;
  /** Removes retired keys whose last token has expired; returns how many. */
  pruneKeys(now?: number): Promise<number>;

  /**
   * A number that changes whenever any process commits a change to the registry. Cheap: callers
   * may ask on every request to know whether cached answers are still current.
   */
  changeStamp(): Promise<number>;

  close(): Promise<void>;
}
