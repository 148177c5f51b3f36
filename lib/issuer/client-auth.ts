import type { Request, RequestHandler } from 'express';
import { Passport, Strategy, type StrategyCreated } from 'passport';
import { BasicStrategy } from 'passport-http';
import { HasherBusyError, invalidClient, invalidRequest, temporarilyUnavailable, tooManyFailedAttempts } from '../errors';
import type { AuditEvents } from '../events';
import type { ClientCredentials, Registry } from '../registry';
import { formOf } from './request-state';
import { presentedCredentials, type ClientAuthMethod, type PresentedCredentials } from './presented-credentials';
import type { SecretVerifier } from './secret-verifier';
import type { FailureThrottle } from './throttle';

/** Longest client_id we look up; longer ones are unknown by definition (ours are 22 characters). */
const MAX_CLIENT_ID_LENGTH = 256;

type Done = (err: unknown, client?: ClientCredentials | false) => void;
type VerifyClient = (clientId: string, secret: string | null) => Promise<ClientCredentials | false>;

/** Passport hands a strategy the options of passport.authenticate: ours carry the credentials, read once. */
interface WithCredentials {
  presented: PresentedCredentials;
}

/** The three outcomes Passport gives a strategy at authenticate time. */
interface Outcome {
  success(client: ClientCredentials): void;
  fail(): void;
  error(err: unknown): void;
}

function settle(strategy: Outcome, result: Promise<ClientCredentials | false>): void {
  result.then(
    (client) => (client ? strategy.success(client) : strategy.fail()),
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

  override authenticate(this: StrategyCreated<ClientSecretBasicStrategy>, _req: Request, options: WithCredentials): void {
    const { clientId, secret } = options.presented;
    if (clientId === null || secret === null) return this.fail();
    settle(this, this.verifyClient(clientId, secret));
  }
}

/** client_secret_post (RFC 6749 §2.3.1): client_id and client_secret in the form body. */
class ClientSecretPostStrategy extends Strategy {
  override name = 'client_secret_post';
  constructor(readonly verifyClient: VerifyClient) {
    super();
  }

  override authenticate(this: StrategyCreated<ClientSecretPostStrategy>, _req: Request, options: WithCredentials): void {
    const { clientId, secret } = options.presented;
    if (clientId === null) return this.fail();
    settle(this, this.verifyClient(clientId, secret));
  }
}

export interface ClientAuthenticationDeps {
  registry: Registry;
  verifier: SecretVerifier;
  realm: string;
  /** Failed-authentication throttle; none: no throttling. */
  throttle?: FailureThrottle;
  /** Milliseconds a locked caller waits for its 429. */
  lockedDelayMs: number;
  events: AuditEvents;
}

type FailureReason = 'invalid_credentials' | 'malformed' | 'missing';

/**
 * Middleware: authenticates the client with Passport (no session) and leaves it in res.locals.client.
 * Expects res.locals.form to be the parsed form. Unknown client and wrong secret fail identically.
 */
export function clientAuthentication(deps: ClientAuthenticationDeps): RequestHandler {
  const verifyClient: VerifyClient = async (clientId, secret) => {
    const client = clientId.length <= MAX_CLIENT_ID_LENGTH ? await deps.registry.findClientCredentials(clientId) : null;
    if (secret === null) return client && client.type === 'public' && client.enabled ? client : false;
    const hashes = client && client.type === 'confidential' ? client.secretHashes : null;
    const ok = await deps.verifier.verify(clientId, secret, hashes);
    return ok && client && client.enabled ? client : false;
  };
  const passport = new Passport();
  passport.use(new ClientSecretBasicStrategy(deps.realm, verifyClient));
  passport.use(new ClientSecretPostStrategy(verifyClient));

  return (req, res, next) => {
    const address = req.ip;
    const requestId = res.locals.requestId;
    const failed = (clientId: string | null, method: ClientAuthMethod | 'both' | 'none', reason: FailureReason): void =>
      deps.events.emit({ type: 'client.auth_failed', clientId, method, reason, address, requestId });
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
    const keys = [`client:${clientId ?? ''}`, `addr:${address ?? ''}`];

    /** The answer to a verified attempt, once the throttle has had its say (undefined: authenticated). */
    const conclude = async (client: ClientCredentials | null): Promise<unknown> => {
      // Attempts let in before a lock engaged can finish after it (parallel guesses): their outcome is
      // withheld, right or wrong, so a burst learns no more answers than the limit allows.
      const lockedFor = deps.throttle ? await deps.throttle.retryAfter(keys) : 0;
      if (!client) {
        failed(clientId, method, 'invalid_credentials');
        await deps.throttle?.recordFailure(keys);
      }
      if (lockedFor > 0) {
        deps.events.emit({ type: 'client.throttled', clientId, retryAfter: lockedFor, address, requestId });
        return tooManyFailedAttempts(lockedFor);
      }
      if (!client) return invalidClient(deps.realm);
      res.locals.client = client;
      await deps.throttle?.recordSuccess(keys.slice(0, 1));
      return undefined;
    };
    const done: Done = (err, client) => {
      if (err instanceof HasherBusyError) {
        // Held back like a lockout answer: a flood that fills the bcrypt queue must not get instant answers.
        const busy = temporarilyUnavailable('Too many authentication requests; retry later.', 1);
        return void setTimeout(() => next(busy), deps.lockedDelayMs);
      }
      if (err) return next(err);
      conclude(client || null).then((outcome) => next(outcome), next);
    };
    const options: WithCredentials & { session: false } = { session: false, presented };
    // @types/passport types the middleware it returns as any.
    const authenticate = (): void => {
      void (passport.authenticate(method, options, done) as RequestHandler)(req, res, next);
    };
    if (!deps.throttle) return authenticate();
    // Checked before any bcrypt work: a locked client or address costs nothing.
    deps.throttle.retryAfter(keys).then((retryAfter) => {
      if (retryAfter === 0) return authenticate();
      deps.events.emit({ type: 'client.throttled', clientId, retryAfter, address, requestId });
      // Tarpit: a locked caller waits for its 429, so hammering costs it time and us almost no CPU.
      setTimeout(() => next(tooManyFailedAttempts(retryAfter)), deps.lockedDelayMs);
    }, next);
  };
}
