import type { RequestHandler } from 'express';

/**
 * The signing key, made in the background as soon as the issuer is built rather than by the first
 * token: a resource server that fetches the JWKS before any token exists then caches a real key (a
 * remote key set refuses a new kid for its cooldown, 30 s with jose's). A failure is reported and
 * left to the first token, which makes the key as before.
 */
export class SigningKeyWarmup {
  private pending: Promise<void> | undefined;

  constructor(
    private readonly makeKey: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Starts it, once. */
  start(): void {
    this.pending ??= this.makeKey().then(
      () => undefined,
      (err: unknown) => this.onError(err),
    );
  }

  /** Resolves once a started warm-up has settled (never rejects): close() and ready() wait for it. */
  settled(): Promise<void> {
    return this.pending ?? Promise.resolve();
  }
}

/**
 * Middleware holding token requests until the startup key is made: the first token is signed by that
 * key rather than racing it with a second key generation. Once that has settled it passes requests
 * on at once, without a promise.
 */
export function afterKeyMade(keyMade: () => Promise<void>): RequestHandler {
  let made = false;
  return (_req, _res, next) => {
    if (made) return next();
    keyMade().then(() => {
      made = true;
      next();
    }, next);
  };
}
