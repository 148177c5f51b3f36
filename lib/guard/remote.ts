import { AccessTokenVerifier, DEFAULT_ALGORITHMS, verifyingValidator, type SigningAlgorithm, type VerifiedCacheOptions } from '../tokens';
import { createGuard, type Guard, type GuardOptions } from './guard';
import type { FetchLike } from './http-json';
import { IntrospectionValidator } from './remote-introspection';
import { RemoteJwks } from './remote-jwks';

export interface RemoteGuardOptions extends GuardOptions {
  /** The issuer's identifier, exactly as in its tokens' `iss` and its metadata. */
  issuer: string;
  /** This API's audience: tokens must name it in `aud`. */
  audience: string | string[];
  /** 'jwks' (default): verify signatures locally with the issuer's published keys. 'introspection': ask the issuer. */
  mode?: 'jwks' | 'introspection';
  /** JWKS mode: key set URL; default discovered from the issuer's metadata. */
  jwksUri?: string;
  /** JWKS mode: least seconds between refetches caused by unknown kids (default 30). */
  jwksCooldown?: number;
  /** JWKS mode: seconds after which the key set is refreshed (default 600). */
  jwksMaxAge?: number;
  /** JWKS mode: accepted algorithms (default RS256, ES256). */
  algorithms?: SigningAlgorithm[];
  /** JWKS mode: seconds of clock skew allowed (default 5). */
  clockTolerance?: number;
  /** JWKS mode: cache of verified tokens. */
  verifiedTokenCache?: VerifiedCacheOptions;
  /** JWKS mode: longest token read (default 4096). */
  maxTokenLength?: number;
  /** Introspection mode: this service's client id and secret at the issuer. */
  clientId?: string;
  clientSecret?: string;
  /** Introspection mode: endpoint URL; default discovered. */
  introspectionEndpoint?: string;
  /** Introspection mode: seconds a positive answer is reused (default 30, never past exp). */
  introspectionCacheSeconds?: number;
  /** Timeout of each call to the issuer in ms (default 5000). */
  timeoutMs?: number;
  /** fetch implementation (default the global fetch). */
  fetch?: FetchLike;
}

/**
 * A guard for an API service that knows only the issuer's URL: the same authenticate /
 * requireScope / requireAnyScope as the local guard, validating through the shared core.
 */
export function remoteGuard(options: RemoteGuardOptions): Guard {
  if (options.mode === 'introspection') {
    if (!options.clientId || !options.clientSecret) throw new TypeError('introspection mode needs clientId and clientSecret');
    const validator = new IntrospectionValidator({
      issuer: options.issuer,
      audience: options.audience,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      introspectionEndpoint: options.introspectionEndpoint,
      cacheSeconds: options.introspectionCacheSeconds,
      timeoutMs: options.timeoutMs,
      fetch: options.fetch,
    });
    return createGuard(validator, options);
  }
  const algorithms = options.algorithms ?? [...DEFAULT_ALGORITHMS];
  const keys = new RemoteJwks({
    issuer: options.issuer,
    jwksUri: options.jwksUri,
    algorithms,
    cooldownSeconds: options.jwksCooldown,
    maxAgeSeconds: options.jwksMaxAge,
    timeoutMs: options.timeoutMs,
    fetch: options.fetch,
  });
  const verifier = new AccessTokenVerifier(keys, {
    issuer: options.issuer,
    audience: options.audience,
    algorithms,
    clockToleranceSeconds: options.clockTolerance,
    maxTokenLength: options.maxTokenLength,
    cache: options.verifiedTokenCache,
  });
  return createGuard(verifyingValidator(verifier), options);
}
