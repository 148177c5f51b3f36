import type { RequestHandler } from 'express';
import type { Keyring } from '../tokens';

/**
 * RFC 7517 §5 JWK Set: public keys only (pending, active and retired-but-still-needed ones).
 * max-age lets validators cache it; rotation's lead time should be at least as long.
 */
export function jwksEndpoint(keyring: Keyring, maxAgeSeconds: number): RequestHandler {
  return (_req, res, next) => {
    keyring.jwks().then((set) => {
      res.set('Cache-Control', `public, max-age=${maxAgeSeconds}`);
      res.json(set);
    }, next);
  };
}
