import type { RequestHandler } from 'express';
import { invalidRequest } from '../errors';
import type { ClientCredentials } from '../registry';
import { TokenRejected, type AccessTokenClaims, type AccessTokenValidator } from '../tokens';

/** RFC 7662 §2.1 / RFC 7009 §2.1: `token` is required. */
export const requireTokenParam: RequestHandler = (req, _res, next) => {
  const token = (req.body as Record<string, string>).token;
  next(token === undefined ? invalidRequest('The token parameter is required.') : undefined);
};

/** Claims of a token that is valid now (signature, claims, not revoked, client enabled), else null. */
export async function liveClaims(validator: AccessTokenValidator, token: string): Promise<AccessTokenClaims | null> {
  try {
    return await validator.validate(token);
  } catch (err) {
    if (err instanceof TokenRejected) return null;
    throw err;
  }
}

export const authenticatedClient = (locals: Record<string, unknown>): ClientCredentials => locals.client as ClientCredentials;
