import type { RequestHandler } from 'express';
import type { Keyring } from '../tokens';

/**
 * RFC 7517 §5 JWK Set: public keys only (pending, active and retired-but-still-needed ones).
 * max-age lets validators cache it; rotation's lead time should be at least as long. `keyMade`
 * resolves once the startup signing key is made (or its making failed).
 */
export function jwksEndpoint(keyring: Keyring, maxAgeSeconds: number, keyMade: () => Promise<void> = () => Promise.resolve()): RequestHandler {
  return (_req, res, next) => {
    // The first requests wait for the signing key being made at startup: never an empty set to cache.
    keyMade()
      .then(() => keyring.jwks())
      .then((set) => {
        res.set('Cache-Control', `public, max-age=${maxAgeSeconds}`);
        res.json(set);
      }, next);
  };
}
