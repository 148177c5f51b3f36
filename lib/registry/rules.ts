/**
 * The registry's validation rules: every value a write takes is checked here, once, before any
 * backend sees it. Refusals are RegistryErrors of kind `invalid` (bad options: ConfigurationError).
 */
import { ConfigurationError, invalid } from '../errors';
import { isScopeToken } from '../scope';
// From jwk.ts itself, not the tokens index: the CLI loads the registry and needs no JWT library.
import { MAX_TOKEN_LIFETIME_SECONDS } from '../tokens/claims';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../tokens/jwk';
import { KNOWN_GRANT_TYPES, type ClientType, type GrantType } from './types';

/** Longest access token lifetime anyone may configure (the guards refuse longer ones): RFC 9700 §2.2 wants short-lived tokens. */
export const MAX_TOKEN_TTL_SECONDS = MAX_TOKEN_LIFETIME_SECONDS;
/** bcrypt reads at most 72 bytes: a longer secret would be silently truncated, so we refuse it. */
export const MAX_SECRET_BYTES = 72;
export const MIN_SECRET_BYTES = 16;
/** Longest token id a revocation records (ours are UUIDs). */
export const MAX_JTI_LENGTH = 256;

const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
// eslint-disable-next-line no-control-regex -- control characters are what this refuses
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/;

export function assertGroupName(name: string): void {
  if (!GROUP_NAME.test(name)) throw invalid(`invalid group name "${name}": use 1-64 letters, digits, '.', '_', ':' or '-'`);
}

/** RFC 6749 §3.3 scope-token, each one. */
export function assertScopes(scopes: string[]): void {
  for (const scope of scopes) {
    if (!isScopeToken(scope)) throw invalid(`invalid scope "${scope}" (RFC 6749 §3.3 scope-token)`);
  }
}

export function assertClientName(name: string): void {
  if (name.length < 1 || name.length > 200 || CONTROL_CHARACTERS.test(name)) {
    throw invalid('a client name must be 1 to 200 characters, without control characters');
  }
}

export function assertClientType(type: string): asserts type is ClientType {
  if (type !== 'confidential' && type !== 'public') throw invalid('client type must be confidential or public');
}

export function assertGrantTypes(grantTypes: string[]): asserts grantTypes is GrantType[] {
  for (const g of grantTypes) {
    if (!(KNOWN_GRANT_TYPES as readonly string[]).includes(g)) {
      throw invalid(`unknown grant type "${g}" (known: ${KNOWN_GRANT_TYPES.join(', ')})`);
    }
  }
}

export function assertTokenTtl(ttl: number | null | undefined): void {
  if (ttl === null || ttl === undefined) return;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
    throw invalid(`token lifetime must be a whole number of seconds from 1 to ${MAX_TOKEN_TTL_SECONDS}`);
  }
}

export function assertAcceptableSecret(secret: string): void {
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw invalid(`a client secret must be ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes long (got ${bytes})`);
  }
}

export function assertOverlap(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 0) throw invalid('overlap must be a whole number of seconds ≥ 0');
}

export function assertBcryptCost(cost: number): void {
  if (!Number.isInteger(cost) || cost < 4 || cost > 15) throw new ConfigurationError('bcryptCost', 'bcrypt cost must be an integer from 4 to 15');
}

export function assertRevocation(jti: unknown, expiresAt: unknown): void {
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw invalid(`a token id (jti) must be 1 to ${MAX_JTI_LENGTH} characters`);
  }
  if (!Number.isInteger(expiresAt)) throw invalid('expiresAt must be a Unix time in seconds');
}

export function assertAlgorithm(alg: string): asserts alg is SigningAlgorithm {
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    throw invalid(`unsupported signing algorithm "${alg}" (supported: ${SIGNING_ALGORITHMS.join(', ')})`);
  }
}

export function assertLeadSeconds(leadSeconds: number): void {
  if (!Number.isInteger(leadSeconds) || leadSeconds < 0) throw invalid('lead time must be a whole number of seconds >= 0');
}
