import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import {
  ConfigurationError,
  InsufficientScopeError,
  InvalidBearerRequestError,
  InvalidTokenError,
  IssuerUnavailableError,
  MissingTokenError,
  RegistryFileChangedError,
  RegistryUnavailableError,
  respondWithError,
  serverError,
  temporarilyUnavailable,
  TokenRejected,
  type BearerChallenge,
  type OAuthError,
} from '../errors';
import { requestIdFrom } from '../events';
import type {} from '../locals';
import type { GuardRefusal } from '../metrics/telemetry';
import { isScopeToken } from '../scope';
import type { AccessTokenClaims, AccessTokenValidator } from '../tokens';
import { extractBearerToken } from './bearer';
import { checkSenderConstraint, dpopChallenge } from './dpop';
import { resolveGuardOptions, type GuardOptions, type ResolvedGuardOptions } from './options';
import { protectedResourceMetadataRouter } from './resource-metadata';

/** What a guarded handler finds on `req.auth`. */
export interface AuthInfo {
  clientId: string;
  scopes: string[];
  claims: AccessTokenClaims;
  token: string;
  /** How the token was presented: 'DPoP' for a sender-constrained token (RFC 9449), else 'Bearer'. */
  tokenType: 'Bearer' | 'DPoP';
  /** The RFC 7638 thumbprint of the key the token is bound to (cnf.jkt), proven by this request's DPoP proof; null for a bearer token. */
  jkt: string | null;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by ccgate's guard once the bearer token is valid. */
    auth?: AuthInfo;
  }
}

export interface Guard {
  /** Validates the bearer token and sets req.auth; requires no scope. */
  authenticate(): RequestHandler;
  /** Validates, then requires every one of `scopes`. */
  requireScope(...scopes: string[]): RequestHandler;
  /** Validates, then requires at least one of `scopes`. */
  requireAnyScope(...scopes: string[]): RequestHandler;
  /**
   * RFC 9728 protected resource metadata, from the `protectedResource` option: a router serving
   * /.well-known/oauth-protected-resource (+ the resource's path); mount at the app's root.
   */
  protectedResourceMetadata(): Router;
}

type ScopeRule = { needed: string[]; all: boolean } | null;

/** A 503 with Retry-After when the issuer (remote guard) or the registry (local guard) cannot be reached. */
function unavailable(fault: unknown): OAuthError | null {
  if (fault instanceof IssuerUnavailableError) return temporarilyUnavailable('The token issuer cannot be reached.', 5);
  if (fault instanceof RegistryUnavailableError) return temporarilyUnavailable('The token registry is unavailable; retry later.', fault.retryAfterSeconds);
  return null;
}

/** What the audit event says of a dependency that failed: which one, and why. */
function dependencyFailure(fault: unknown): { dependency: 'issuer' | 'registry'; reason: string } {
  if (fault instanceof IssuerUnavailableError) return { dependency: 'issuer', reason: fault.reason };
  return { dependency: 'registry', reason: fault instanceof RegistryFileChangedError ? 'file_changed' : 'unreachable' };
}

/** The metrics' reason for a fault: which dependency is down, or a bare server error. */
function faultReason(fault: unknown): GuardRefusal {
  if (fault instanceof IssuerUnavailableError) return 'issuer_unavailable';
  return fault instanceof RegistryUnavailableError ? 'registry_unavailable' : 'server_error';
}

/** The metrics' reason for a sender-constraint refusal. */
function bindingRefusal(err: OAuthError): GuardRefusal {
  if (err.code === 'invalid_dpop_proof' || err.code === 'use_dpop_nonce') return err.code;
  return 'dpop_binding';
}

function assertRouteScopes(scopes: string[]): void {
  if (scopes.length === 0) throw new ConfigurationError('scopes', 'requireScope needs at least one scope');
  for (const s of scopes) {
    if (typeof s !== 'string' || !isScopeToken(s)) throw new ConfigurationError('scopes', `invalid scope "${String(s)}" (RFC 6749 §3.3)`);
  }
}

function scopeError(rule: NonNullable<ScopeRule>, granted: Set<string>, challenge: BearerChallenge): InsufficientScopeError | null {
  const ok = rule.all ? rule.needed.every((s) => granted.has(s)) : rule.needed.some((s) => granted.has(s));
  if (ok) return null;
  const description = rule.all
    ? `The access token lacks the scope this resource requires: ${rule.needed.join(' ')}.`
    : `The access token needs one of these scopes: ${rule.needed.join(' ')}.`;
  return new InsufficientScopeError(description, { ...challenge, scope: rule.needed.join(' ') });
}

/** Builds the three middleware factories around one validator (local or remote). */
export function createGuard(validator: AccessTokenValidator, guardOptions: GuardOptions = {}, issuer?: string): Guard {
  return createResolvedGuard(validator, resolveGuardOptions(guardOptions, issuer));
}

/** createGuard with options already resolved (ccgate() checks them before it opens anything). */
export function createResolvedGuard(validator: AccessTokenValidator, options: ResolvedGuardOptions): Guard {
  const challenge: BearerChallenge = dpopChallenge(options.dpop, { realm: options.realm, resourceMetadata: options.protectedResource?.url });
  const fail =
    options.errors === 'next'
      ? (err: OAuthError, _res: Response, next: NextFunction) => next(err)
      : (err: OAuthError, res: Response) => respondWithError(res, err);

  /**
   * The request id for an audit event: one an earlier middleware assigned, else the caller's sane
   * X-Request-Id, else a fresh one, echoed in X-Request-Id. Only refusals pay for it.
   */
  function requestIdOf(req: Request, res: Response): string {
    const assigned = res.locals.requestId;
    if (assigned !== undefined) return assigned;
    const id = requestIdFrom(req.headers['x-request-id']);
    res.locals.requestId = id;
    if (!res.headersSent && !res.hasHeader('X-Request-Id')) res.setHeader('X-Request-Id', id);
    return id;
  }

  const { telemetry } = options;
  /** Counts a refusal by its reason, and hands the error on. */
  const refused = <E extends OAuthError>(reason: GuardRefusal, error: E): E => {
    telemetry.guardRefused(reason);
    return error;
  };

  /** RFC 6750 §3.1: which error a request earns, or null with req.auth set. */
  async function check(req: Request, res: Response, rule: ScopeRule): Promise<OAuthError | null> {
    const extracted = extractBearerToken(req);
    if (extracted.kind === 'none') return refused('missing_token', new MissingTokenError(challenge));
    if (extracted.kind === 'malformed') return refused('invalid_request', new InvalidBearerRequestError(extracted.reason, challenge));
    const used = { ...challenge, used: extracted.scheme };
    let claims: AccessTokenClaims;
    try {
      claims = await validator.validate(extracted.token);
    } catch (err) {
      if (!(err instanceof TokenRejected)) throw err;
      options.events?.emit({ type: 'token.rejected', reason: err.reason, where: 'guard', requestId: requestIdOf(req, res) });
      return refused(err.reason, new InvalidTokenError(err.message, used));
    }
    const binding = await checkSenderConstraint(req, extracted.scheme, extracted.token, claims, options.dpop, used);
    if ('code' in binding) return refused(bindingRefusal(binding), binding);
    const scopes = claims.scope === '' ? [] : claims.scope.split(' ');
    if (rule) {
      const denied = scopeError(rule, new Set(scopes), used);
      if (denied) {
        options.events?.emit({
          type: 'scope.denied',
          clientId: claims.client_id,
          requested: rule.needed.join(' '),
          where: 'guard',
          requestId: requestIdOf(req, res),
        });
        return refused('insufficient_scope', denied);
      }
    }
    req.auth = { clientId: claims.client_id, scopes, claims, token: extracted.token, tokenType: binding.jkt === null ? 'Bearer' : 'DPoP', jkt: binding.jkt };
    // RFC 9449 §9: a fresh resource-server nonce on every answer, so the client's next proof can carry it.
    if (options.dpop.nonces && binding.jkt !== null) res.setHeader('DPoP-Nonce', options.dpop.nonces.current());
    telemetry.guardAccepted();
    return null;
  }

  function middleware(rule: ScopeRule): RequestHandler {
    return (req, res, next) => {
      check(req, res, rule).then(
        (err) => (err ? fail(err, res, next) : next()),
        (fault: unknown) => {
          // Not the caller's fault: a dependency is unreachable (503), or something broke (a bare 500, no stack trace).
          const known = unavailable(fault);
          telemetry.guardRefused(faultReason(fault));
          if (known) options.events?.emit({ type: 'dependency.unavailable', ...dependencyFailure(fault), where: 'guard', requestId: requestIdOf(req, res) });
          if (options.errors === 'next') return next(known ?? fault);
          respondWithError(res, known ?? serverError());
        },
      );
    };
  }

  return {
    authenticate: () => middleware(null),
    requireScope(...scopes) {
      assertRouteScopes(scopes);
      return middleware({ needed: scopes, all: true });
    },
    requireAnyScope(...scopes) {
      assertRouteScopes(scopes);
      return middleware({ needed: scopes, all: false });
    },
    protectedResourceMetadata() {
      if (!options.protectedResource) throw new ConfigurationError('protectedResource', 'protectedResourceMetadata() needs the protectedResource option');
      return protectedResourceMetadataRouter(options.protectedResource);
    },
  };
}
