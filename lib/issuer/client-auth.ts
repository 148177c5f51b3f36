import type { NextFunction, RequestHandler, Response } from 'express';
import { Passport, Strategy, type StrategyCreated } from 'passport';
import { BasicStrategy } from 'passport-http';
import { HasherBusyError, invalidClient, invalidRequest, temporarilyUnavailable, throttledClient } from '../errors';
import type { AuditEvents } from '../events';
import type { ClientCredentials } from '../registry';
import type { AssertionVerification } from './assertion-verification';
import type { ClientVerification, Verdict } from './client-verification';
import { presentedCredentials, type PresentedCredentials, type PresentedMethod } from './presented-credentials';
import { formOf } from './request-state';

type Done = (err: unknown, client?: ClientCredentials | false, verdict?: Verdict) => void;
type VerifyClient = (presented: PresentedCredentials, address: string | undefined) => Promise<Verdict>;

/** Passport hands a strategy the options of passport.authenticate: ours carry the credentials, read once. */
interface WithCredentials {
  presented: PresentedCredentials;
}

/**
 * What the strategies read of the request, and what Passport is handed as the request. Passport's
 * authenticate() adds seven members to the request it is given (req.login, logIn, logout, logOut,
 * isAuthenticated, isUnauthenticated, _sessionManager), all for sessions, which ccgate does not use
 * (session: false and a callback: Passport then never calls them). On Express 5 every request
 * object ends up with a hidden class of its own (Express sets its prototype), so each member added
 * to it copies that class: ~25 µs of CPU per token request, more than the rest of Passport's work.
 * Added to this object, whose shape every request shares, they cost next to nothing.
 */
interface PassportRequest {
  /** The caller's address, read once (req.ip): what the throttle and the bcrypt queue key on. */
  readonly ip: string | undefined;
}

/** The outcomes Passport gives a strategy at authenticate time. */
interface Outcome {
  success(client: ClientCredentials): void;
  fail(verdict: Verdict): void;
  error(err: unknown): void;
}

function settle(strategy: Outcome, result: Promise<Verdict>): void {
  result.then(
    (verdict) => (verdict.kind === 'authenticated' ? strategy.success(verdict.client) : strategy.fail(verdict)),
    (err: unknown) => strategy.error(err),
  );
}

/**
 * client_secret_basic through passport-http. Its own parser splits the decoded pair on every ':'
 * (a secret holding ':' would be cut) and does not form-decode; the credentials come parsed per
 * RFC 6749 §2.3.1 instead, and go through the same verify-callback flow.
 */
class ClientSecretBasicStrategy extends BasicStrategy {
  constructor(
    realm: string,
    readonly verifyClient: VerifyClient,
  ) {
    super({ realm }, () => undefined);
    this.name = 'client_secret_basic';
  }

  override authenticate(this: StrategyCreated<ClientSecretBasicStrategy>, req: PassportRequest, options: WithCredentials): void {
    settle(this, this.verifyClient(options.presented, req.ip));
  }
}

/** A method whose credentials are all in the form body: client_secret_post (RFC 6749 §2.3.1), private_key_jwt (RFC 7523 §2.2). */
class FormCredentialsStrategy extends Strategy {
  constructor(
    override readonly name: 'client_secret_post' | 'private_key_jwt',
    readonly verifyClient: VerifyClient,
  ) {
    super();
  }

  override authenticate(this: StrategyCreated<FormCredentialsStrategy>, req: PassportRequest, options: WithCredentials): void {
    settle(this, this.verifyClient(options.presented, req.ip));
  }
}

export interface ClientAuthenticationDeps {
  verification: ClientVerification;
  assertions: AssertionVerification;
  realm: string;
  /** Milliseconds a throttled caller (or one refused for a full bcrypt queue) waits for its answer: a tarpit. */
  lockedDelayMs: number;
  events: AuditEvents;
}

type FailureReason = 'invalid_credentials' | 'malformed' | 'missing';

/** Answers after `ms` (a tarpit or the slowdown): the caller waits, we spend no CPU meanwhile. */
const later = (ms: number, answer: () => void): void => {
  if (ms > 0) setTimeout(answer, ms);
  else answer();
};

/**
 * Middleware: authenticates the client with Passport (no session) and leaves it in res.locals.client.
 * Expects res.locals.form to be the parsed form. Unknown client and wrong secret fail identically.
 */
export function clientAuthentication(deps: ClientAuthenticationDeps): RequestHandler {
  const verifyClient: VerifyClient = (presented, address) => {
    if (presented.method === 'private_key_jwt') return deps.assertions.verify(presented.clientId, presented.assertion);
    if (presented.clientId === null) return Promise.resolve({ kind: 'refused', delayMs: 0, detail: 'client_unknown' });
    return deps.verification.verify(presented.method, presented.clientId, presented.secrets, address);
  };
  const passport = new Passport();
  passport.use(new ClientSecretBasicStrategy(deps.realm, verifyClient));
  passport.use(new FormCredentialsStrategy('client_secret_post', verifyClient));
  passport.use(new FormCredentialsStrategy('private_key_jwt', verifyClient));

  return (req, res, next) => {
    const address = req.ip;
    const requestId = res.locals.requestId;
    const failed = (clientId: string | null, method: PresentedMethod, reason: FailureReason, detail?: string): void =>
      deps.events.emit({ type: 'client.auth_failed', clientId, method, reason, detail, address, requestId });
    const presented = presentedCredentials(req.headers, req.rawHeaders, formOf(res));
    if ('refusal' in presented) {
      if (presented.refusal === 'missing') {
        failed(null, presented.method, 'missing');
        return next(invalidClient(deps.realm, 'Client authentication is required.'));
      }
      failed(null, presented.method, 'malformed');
      return next(invalidRequest(presented.reason));
    }
    const { clientId, method } = presented;
    const done: Done = (err, client, verdict) => {
      if (err instanceof HasherBusyError) {
        // Held back like a throttled answer: a flood that fills the bcrypt queue must not get instant answers.
        return later(deps.lockedDelayMs, () => next(temporarilyUnavailable('Too many authentication requests; retry later.', 1)));
      }
      if (err) return next(err);
      if (client) {
        res.locals.client = client;
        return next();
      }
      if (verdict?.kind === 'throttled') {
        deps.events.emit({ type: 'client.throttled', clientId, retryAfter: verdict.retryAfter, address, requestId });
        return later(deps.lockedDelayMs, () => next(throttledClient(deps.realm, verdict.retryAfter)));
      }
      failed(clientId, method, 'invalid_credentials', verdict?.kind === 'refused' ? verdict.detail : undefined);
      later(verdict?.kind === 'refused' ? verdict.delayMs : 0, () => next(invalidClient(deps.realm)));
    };
    const options: WithCredentials & { session: false } = { session: false, presented };
    const passportRequest: PassportRequest = { ip: address };
    // @types/passport types the middleware it returns as any.
    (passport.authenticate(method, options, done) as (req: PassportRequest, res: Response, next: NextFunction) => void)(passportRequest, res, next);
  };
}
