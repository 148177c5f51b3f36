import type { Request, RequestHandler } from 'express';
import { Passport, Strategy } from 'passport';
import { BasicStrategy } from 'passport-http';
import { invalidClient, invalidRequest, temporarilyUnavailable, tooManyFailedAttempts } from '../errors';
import type { AuditEvents } from '../events';
import { authorizationHeaderCount } from '../headers';
import type { ClientCredentials, RegistryStore } from '../registry';
import { isBasicAuthorization, parseBasicAuthorization } from './basic';
import { HasherBusyError } from './bcrypt-pool';
import type { SecretVerifier } from './secret-verifier';
import type { FailureThrottle } from './throttle';

/** Longest client_id we look up; longer ones are unknown by definition (ours are 22 characters). */
const MAX_CLIENT_ID_LENGTH = 256;

type Done = (err: unknown, client?: ClientCredentials | false) => void;
/** secret null: a client that only identified itself (a public client, RFC 6749 §2.3.1 / §3.2.1). */
type VerifyClient = (clientId: string, secret: string | null) => Promise<ClientCredentials | false>;

/** The passport-strategy methods passport adds to a strategy at authenticate time. */
interface Augmented {
  success(user: ClientCredentials): void;
  fail(challenge?: string, status?: number): void;
  error(err: unknown): void;
}

/**
 * client_secret_basic through passport-http. Its own parser splits the decoded pair on every ':'
 * (a secret holding ':' would be cut) and does not form-decode; we parse per RFC 6749 §2.3.1 instead
 * and hand the result to the same verify-callback flow.
 */
class ClientSecretBasicStrategy extends BasicStrategy {
  constructor(realm: string, private readonly verifyClient: VerifyClient) {
    super({ realm }, () => undefined);
    this.name = 'client_secret_basic';
  }

  override authenticate(req: Request): void {
    const self = this as unknown as Augmented;
    const parsed = parseBasicAuthorization(req.headers.authorization);
    if (parsed.kind !== 'credentials') return self.fail();
    settle(self, this.verifyClient(parsed.clientId, parsed.clientSecret));
  }
}

/** client_secret_post (RFC 6749 §2.3.1): client_id and client_secret in the form body. */
class ClientSecretPostStrategy extends Strategy {
  override name = 'client_secret_post';
  constructor(private readonly verifyClient: VerifyClient) {
    super();
  }

  override authenticate(req: Request): void {
    const self = this as unknown as Augmented;
    const body = req.body as Record<string, string>;
    if (!body.client_id) return self.fail();
    settle(self, this.verifyClient(body.client_id, body.client_secret ?? null));
  }
}

function settle(strategy: Augmented, result: Promise<ClientCredentials | false>): void {
  result.then(
    (client) => (client ? strategy.success(client) : strategy.fail()),
    (err) => strategy.error(err),
  );
}

export interface ClientAuthenticationDeps {
  store: RegistryStore;
  verifier: SecretVerifier;
  realm: string;
  /** Failed-authentication throttle; none: no throttling. */
  throttle?: FailureThrottle;
  /** Milliseconds a locked caller waits for its 429. */
  lockedDelayMs?: number;
  events: AuditEvents;
}

/** Which method the request used (RFC 6749 §2.3): exactly one is required. */
export function authenticationMethod(req: Request): 'client_secret_basic' | 'client_secret_post' | 'none' | 'both' {
  const basic = isBasicAuthorization(req.headers.authorization);
  const body = req.body as Record<string, string>;
  const post = body.client_id !== undefined || body.client_secret !== undefined;
  if (basic && post) return 'both';
  return basic ? 'client_secret_basic' : post ? 'client_secret_post' : 'none';
}

/**
 * Middleware: authenticates the client with Passport (no session) and leaves it in res.locals.client.
 * Expects req.body to be the parsed form. Unknown client and wrong secret fail identically.
 */
export function clientAuthentication(deps: ClientAuthenticationDeps): RequestHandler {
  const verifyClient: VerifyClient = async (clientId, secret) => {
    const client = clientId.length <= MAX_CLIENT_ID_LENGTH ? await deps.store.findClientCredentials(clientId) : null;
    if (secret === null) return client && client.type === 'public' && client.enabled ? client : false;
    const hashes = client && client.type === 'confidential' ? client.secretHashes : null;
    const ok = await deps.verifier.verify(clientId, secret, hashes);
    return ok && client && client.enabled ? client : false;
  };
  const passport = new Passport();
  passport.use(new ClientSecretBasicStrategy(deps.realm, verifyClient));
  passport.use(new ClientSecretPostStrategy(verifyClient));

  return (req, res, next) => {
    const method = authenticationMethod(req);
    const address = req.ip;
    const requestId = res.locals.requestId as string | undefined;
    const failed = (clientId: string | null, reason: 'invalid_credentials' | 'malformed' | 'missing'): void =>
      deps.events.emit({ type: 'client.auth_failed', clientId, method, reason, address, requestId });
    // Node keeps only the first of repeated headers: credentials must not depend on which one wins.
    if (authorizationHeaderCount(req.rawHeaders) > 1) {
      failed(null, 'malformed');
      return next(invalidRequest('More than one Authorization header.'));
    }
    if (method === 'both') {
      failed(null, 'malformed');
      return next(invalidRequest('Use one client authentication method, not both (RFC 6749 section 2.3).'));
    }
    if (method === 'none') {
      failed(null, 'missing');
      return next(invalidClient(deps.realm, 'Client authentication is required.'));
    }
    let clientId = (req.body as Record<string, string>).client_id ?? null;
    if (method === 'client_secret_basic') {
      const parsed = parseBasicAuthorization(req.headers.authorization);
      if (parsed.kind === 'malformed') {
        failed(null, 'malformed');
        return next(invalidRequest(parsed.reason));
      }
      if (parsed.kind === 'credentials') clientId = parsed.clientId;
    }
    const keys = [`client:${clientId ?? ''}`, `addr:${address ?? ''}`];

    /** The answer to a verified attempt, once the throttle has had its say (undefined: authenticated). */
    const conclude = async (client: ClientCredentials | null): Promise<unknown> => {
      // Attempts let in before a lock engaged can finish after it (parallel guesses): their outcome is
      // withheld, right or wrong, so a burst learns no more answers than the limit allows.
      const lockedFor = deps.throttle ? await deps.throttle.retryAfter(keys) : 0;
      if (!client) {
        failed(clientId, 'invalid_credentials');
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
        return void setTimeout(() => next(temporarilyUnavailable('Too many authentication requests; retry later.', 1)), deps.lockedDelayMs ?? 0);
      }
      if (err) return next(err);
      conclude(client || null).then((outcome) => next(outcome), next);
    };
    const authenticate = (): void => passport.authenticate(method, { session: false }, done)(req, res, next);
    if (!deps.throttle) return authenticate();
    // Checked before any bcrypt work: a locked client or address costs nothing.
    deps.throttle.retryAfter(keys).then((retryAfter) => {
      if (retryAfter === 0) return authenticate();
      deps.events.emit({ type: 'client.throttled', clientId, retryAfter, address, requestId });
      // Tarpit: a locked caller waits for its 429, so hammering costs it time and us almost no CPU.
      setTimeout(() => next(tooManyFailedAttempts(retryAfter)), deps.lockedDelayMs ?? 0);
    }, next);
  };
}
