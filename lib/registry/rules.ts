/**
 * The registry's validation rules: every value a write takes is checked here, once, before any
 * backend sees it. Refusals are RegistryErrors of kind `invalid` (bad options: ConfigurationError).
 */
import { ConfigurationError, invalid } from '../errors';
import { isScopeToken } from '../scope';
// From jwk.ts itself, not the tokens index: the CLI loads the registry and needs no JWT library.
import { MAX_TOKEN_LIFETIME_SECONDS } from '../tokens/claims';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../tokens/jwk';
import { CLIENT_AUTH_METHODS, DPOP_POLICIES, KNOWN_GRANT_TYPES, type ClientAuthMethod, type ClientType, type DpopPolicy, type GrantType } from './types';

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

export function assertAuthMethod(method: string): asserts method is ClientAuthMethod {
  if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(method)) {
    throw invalid(`unknown client authentication method "${method}" (known: ${CLIENT_AUTH_METHODS.join(', ')})`);
  }
}

export function assertDpopPolicy(policy: string): asserts policy is DpopPolicy {
  if (!(DPOP_POLICIES as readonly string[]).includes(policy)) {
    throw invalid(`unknown DPoP policy "${policy}" (known: ${DPOP_POLICIES.join(', ')})`);
  }
}

/** Longest resource URI the registry keeps. */
export const MAX_RESOURCE_URI_LENGTH = 512;

/**
 * RFC 8707 §2: a resource is an absolute URI without a fragment; it SHOULD NOT have a query, and
 * ccgate refuses one so an audience has one spelling. Kept exactly as given (no normalization): it is
 * compared character for character with a token request's `resource` and a guard's audience.
 */
export function resourceUriProblem(uri: string): string | null {
  if (uri.length === 0 || uri.length > MAX_RESOURCE_URI_LENGTH) return `a resource URI must be 1 to ${MAX_RESOURCE_URI_LENGTH} characters`;
  if (CONTROL_CHARACTERS.test(uri) || /\s/.test(uri)) return 'a resource URI has no spaces or control characters';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `"${uri}" is not an absolute URI`;
  }
  if (uri.includes('#')) return 'a resource URI must not have a fragment (RFC 8707 section 2)';
  if (url.search !== '' || uri.includes('?')) return 'a resource URI must not have a query (RFC 8707 section 2)';
  return null;
}

export function assertResourceUri(uri: string): void {
  const problem = resourceUriProblem(uri);
  if (problem !== null) throw invalid(problem);
}
