import type { SigningAlgorithm } from '../tokens';
import type { ClientJwks } from '../tokens/jwk-set';
import type { KeyRow } from './storage';

/** Records the registry hands out. Times are Unix seconds. */

export type ClientType = 'confidential' | 'public';

/** Grant types the registry lets a client be allowed; ccgate's token endpoint serves the first only. */
export const KNOWN_GRANT_TYPES = ['client_credentials'] as const;
export type GrantType = (typeof KNOWN_GRANT_TYPES)[number];

/**
 * How a client authenticates at the token, introspection and revocation endpoints (RFC 7591 §2
 * token_endpoint_auth_method): exactly one per client, and only that one is accepted from it.
 */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/**
 * Where a private_key_jwt client's public keys are: a JWK Set document registered inline (checked:
 * public keys only), or the URL it is fetched from.
 */
/**
 * Whether a client's token requests carry a DPoP proof (RFC 9449): `allowed`, the default (a request
 * with a valid proof gets a DPoP-bound token, one without gets a bearer token), or `required` (RFC
 * 9449 §5.2 client metadata dpop_bound_access_tokens: true; a request without a proof is refused).
 */
export const DPOP_POLICIES = ['allowed', 'required'] as const;
export type DpopPolicy = (typeof DPOP_POLICIES)[number];

export type ClientKeysSource = { jwks: unknown; jwksUri?: never } | { jwksUri: string; jwks?: never };

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
  authMethod: ClientAuthMethod;
  /** private_key_jwt: the registered public keys (public members only), or null when they come from jwksUri. */
  jwks: ClientJwks | null;
  jwksUri: string | null;
  /** Whether its token requests must carry a DPoP proof (RFC 9449 §5.2). */
  dpop: DpopPolicy;
  groups: string[];
  /** Exactly the union of the groups' scopes, sorted. */
  scopes: string[];
  /** Empty for a private_key_jwt client. */
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
  authMethod: ClientAuthMethod;
  jwks: ClientJwks | null;
  jwksUri: string | null;
  dpop: DpopPolicy;
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
  /** Caller-chosen secret (16..72 bytes); omitted: 32 random bytes, base64url. Not for private_key_jwt. */
  secret?: string;
  /** Default client_secret_basic. */
  authMethod?: ClientAuthMethod;
  /** private_key_jwt only, exactly one of them: a JWK Set document (public keys; private members are refused) or its URL. */
  jwks?: unknown;
  jwksUri?: string;
  /** Default `allowed`: a proof is optional; `required`: every token request must carry one (RFC 9449 §5.2). */
  dpop?: DpopPolicy;
}

export interface CreatedClient {
  client: ClientRecord;
  /** Shown once; null for a public or a private_key_jwt client. */
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

/** An API as the registry knows it (RFC 8707): its URI is the `aud` of the tokens meant for it. */
export interface ResourceRecord {
  uri: string;
  /** The scopes this API understands, sorted. */
  scopes: string[];
  createdAt: number;
  updatedAt: number;
}
