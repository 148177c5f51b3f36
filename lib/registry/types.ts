import type { SigningAlgorithm } from '../tokens';
import type { KeyRow } from './storage';

/** Records the registry hands out. Times are Unix seconds. */

export type ClientType = 'confidential' | 'public';

/** Grant types the registry lets a client be allowed; ccgate's token endpoint serves the first only. */
export const KNOWN_GRANT_TYPES = ['client_credentials'] as const;
export type GrantType = (typeof KNOWN_GRANT_TYPES)[number];

export interface SecretInfo {
  id: number;
  createdAt: number;
  /** null: the current secret. A time: an older secret kept valid until then (rotation overlap). */
  expiresAt: number | null;
}

export interface ClientRecord {
  clientId: string;
  name: string;
  type: ClientType;
  grantTypes: GrantType[];
  /** Per-client access token lifetime in seconds; null means the server's default. */
  tokenTtl: number | null;
  enabled: boolean;
  groups: string[];
  /** Exactly the union of the groups' scopes, sorted. */
  scopes: string[];
  secrets: SecretInfo[];
  createdAt: number;
  updatedAt: number;
}

/** What client authentication needs, in one indexed read. */
export interface ClientCredentials {
  clientId: string;
  type: ClientType;
  grantTypes: GrantType[];
  tokenTtl: number | null;
  enabled: boolean;
  scopes: string[];
  /** bcrypt hashes of the secrets valid now (the current one, plus an overlapping old one). */
  secretHashes: string[];
}

export interface GroupRecord {
  name: string;
  scopes: string[];
  clientCount: number;
  createdAt: number;
}

export interface NewClient {
  name: string;
  type?: ClientType;
  groups?: string[];
  grantTypes?: GrantType[];
  tokenTtl?: number | null;
  /** Caller-chosen secret (16..72 bytes); omitted: 32 random bytes, base64url. */
  secret?: string;
}

export interface CreatedClient {
  client: ClientRecord;
  /** Shown once; null for a public client. */
  clientSecret: string | null;
}

export interface RotateSecretOptions {
  secret?: string;
  /** Seconds the previous secret stays valid; 0 (default) ends it at once. */
  overlapSeconds?: number;
}

export interface RevocationInput {
  jti: string;
  clientId?: string | null;
  /** When the token expires; the revocation is pruned after that. */
  expiresAt: number;
}

/** Derived from the key's times: pending (published, not signing yet), active (signing), retired. */
export type KeyStatus = 'pending' | 'active' | 'retired';

/** A stored key with its lifecycle derived from the time of reading. */
export interface KeyRecord extends KeyRow {
  status: KeyStatus;
  /** When the key may leave the JWKS: null while it signs or may still sign. */
  removeAfter: number | null;
  /** Id of the key secret its private half is encrypted under; null: stored as plain PEM (run `ccgate key rewrap`). */
  keySecretId: string | null;
}

/** What `rewrapKeys()` did: every stored private key is now encrypted under `keySecretId`. */
export interface RewrapResult {
  /** The current key secret's id. */
  keySecretId: string;
  /** Keys moved from an older secret to the current one. */
  rewrapped: string[];
  /** Keys that were plain PEM and are now encrypted. */
  encrypted: string[];
  /** Keys already encrypted under the current secret. */
  unchanged: string[];
}

export interface RotateKeyOptions {
  alg: SigningAlgorithm;
  /** Seconds the new key is published before it signs, so caches pick it up (default 0). */
  leadSeconds?: number;
}
