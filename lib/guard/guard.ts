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
  type TokenScheme,
} from '../errors';
import { requestIdFrom } from '../events';
import type {} from '../locals';
import type { GuardRefusal } from '../metrics/telemetry';
import { isScopeToken } from '../scope';
import type { AccessTokenClaims, AccessTokenValidator } from '../tokens';
import { boundJkt } from '../tokens/claims';
import { scopesOf, type VerifiedToken } from '../tokens/verified-cache';
import { checkedToken, locateToken } from './bearer';
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

/** The scopes granted are few (a token's scope claim, split): a linear search beats building a Set for every request. */
function scopeError(rule: NonNullable<ScopeRule>, granted: readonly string[], challenge: BearerChallenge): InsufficientScopeError | null {
  const ok = rule.all ? rule.needed.every((s) => granted.includes(s)) : rule.needed.some((s) => granted.includes(s));
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

  /** The challenge of an answer to a token sent with `scheme`, built once per scheme. */
  const usedChallenge: Record<TokenScheme, BearerChallenge> = { Bearer: { ...challenge, used: 'Bearer' }, DPoP: { ...challenge, used: 'DPoP' } };

  /** The refusal of a token the validator rejected (reported and counted); anything else is a fault, thrown on. */
  function rejection(err: unknown, req: Request, res: Response, scheme: TokenScheme): OAuthError {
    if (!(err instanceof TokenRejected)) throw err;
    options.events?.emit({ type: 'token.rejected', reason: err.reason, where: 'guard', requestId: requestIdOf(req, res) });
    return refused(err.reason, new InvalidTokenError(err.message, usedChallenge[scheme]));
  }

  /** A valid token, its sender constraint settled (jkt null: a bearer token): the scope rule, then req.auth. */
  function admit(
    req: Request,
    res: Response,
    rule: ScopeRule,
    token: string,
    scheme: TokenScheme,
    verified: VerifiedToken,
    jkt: string | null,
  ): OAuthError | null {
    const { claims, scopes } = verified;
    if (rule) {
      const denied = scopeError(rule, scopes, usedChallenge[scheme]);
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
    // A copy: the cached list is shared by every request with this token.
    req.auth = { clientId: claims.client_id, scopes: scopes.slice(), claims, token, tokenType: jkt === null ? 'Bearer' : 'DPoP', jkt };
    // RFC 9449 §9: a fresh resource-server nonce on every answer, so the client's next proof can carry it.
    if (options.dpop.nonces && jkt !== null) res.setHeader('DPoP-Nonce', options.dpop.nonces.current());
    telemetry.guardAccepted();
    return null;
  }

  /** The validator's answer, asynchronously: from its cache, the key source and the token status source as needed. */
  async function validated(token: string): Promise<VerifiedToken> {
    if (validator.validateToken) return validator.validateToken(token);
    const claims = await validator.validate(token);
    return { claims, scopes: scopesOf(claims) };
  }

  /**
   * RFC 6750 §3.1: which error a request with a well-formed token earns, or null with req.auth set.
   * `verified`: the validator's answer, when it was known at once.
   */
  async function check(req: Request, res: Response, rule: ScopeRule, token: string, scheme: TokenScheme, verified?: VerifiedToken): Promise<OAuthError | null> {
    if (verified === undefined) {
      try {
        verified = await validated(token);
      } catch (err) {
        return rejection(err, req, res, scheme);
      }
    }
    const binding = await checkSenderConstraint(req, scheme, token, verified.claims, options.dpop, usedChallenge[scheme]);
    if ('code' in binding) return refused(bindingRefusal(binding), binding);
    return admit(req, res, rule, token, scheme, verified, binding.jkt);
  }

  /** Not the caller's fault: a dependency is unreachable (503), or something broke (a bare 500, no stack trace). */
  function fault(thrown: unknown, req: Request, res: Response, next: NextFunction): void {
    const known = unavailable(thrown);
    telemetry.guardRefused(faultReason(thrown));
    if (known) options.events?.emit({ type: 'dependency.unavailable', ...dependencyFailure(thrown), where: 'guard', requestId: requestIdOf(req, res) });
    if (options.errors === 'next') return next(known ?? thrown);
    respondWithError(res, known ?? serverError());
  }

  /** The validator's answer from memory, synchronously (undefined: not known); a rejection is returned as the refusal to send. */
  const knownByValidator = validator.known?.bind(validator);
  function knownAnswer(req: Request, res: Response, token: string, scheme: TokenScheme): VerifiedToken | OAuthError | undefined {
    if (knownByValidator === undefined) return undefined;
    try {
      return knownByValidator(token);
    } catch (err) {
      return rejection(err, req, res, scheme);
    }
  }

  /**
   * The answer to a token the validator knows, without a Promise when it can be had: an unbound
   * token presented as Bearer where DPoP is not required is exactly the case checkSenderConstraint
   * settles as a bearer token without looking at the request (RFC 9449 §7.1), so the scope rule and
   * next() run right here, in the request's own callback. Every other case goes through
   * checkSenderConstraint.
   */
  const bearerAtOnce = !options.dpop.required;

  /**
   * Everything that can be settled at once: null, admitted (req.auth set); an error, the refusal; else
   * the well-formed token to check asynchronously (with the validator's answer when it was known).
   */
  function settleAtOnce(req: Request, res: Response, rule: ScopeRule): OAuthError | null | { token: string; scheme: TokenScheme; verified?: VerifiedToken } {
    const found = locateToken(req);
    if (found.kind === 'candidate' && !found.elsewhere) {
      const answer = knownAnswer(req, res, found.token, found.scheme);
      if (answer !== undefined) {
        if ('code' in answer) return answer;
        // A token the validator verified is a compact JWS, so a b64token: checkedToken would take it as it is.
        const { token, scheme } = found;
        if (bearerAtOnce && scheme === 'Bearer' && boundJkt(answer.claims) === null) return admit(req, res, rule, token, scheme, answer, null);
        return { token, scheme, verified: answer };
      }
    }
    const extracted = found.kind === 'candidate' ? checkedToken(found) : found;
    if (extracted.kind === 'none') return refused('missing_token', new MissingTokenError(challenge));
    if (extracted.kind === 'malformed') return refused('invalid_request', new InvalidBearerRequestError(extracted.reason, challenge));
    return extracted;
  }

  /** The validator's one look at its change detection for a request's whole synchronous part (see atOneReading). */
  const atOneReading = validator.atOneReading?.bind(validator);

  function middleware(rule: ScopeRule): RequestHandler {
    const handle: RequestHandler = (req, res, next) => {
      let first: ReturnType<typeof settleAtOnce>;
      try {
        first = settleAtOnce(req, res, rule);
      } catch (thrown) {
        return fault(thrown, req, res, next);
      }
      if (first === null) return next();
      if ('code' in first) return fail(first, res, next);
      check(req, res, rule, first.token, first.scheme, first.verified).then(
        (err) => (err ? fail(err, res, next) : next()),
        (thrown: unknown) => fault(thrown, req, res, next),
      );
    };
    // Everything up to check()'s first await is synchronous: a first-sight token's key freshness is
    // judged at the same reading as the cache's miss. Its status, after that await, reads afresh.
    return atOneReading ? (req, res, next) => atOneReading(() => handle(req, res, next)) : handle;
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
