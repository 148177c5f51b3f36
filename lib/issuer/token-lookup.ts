import type { RequestHandler } from 'express';
import { invalidRequest, TokenRejected } from '../errors';
import type { AccessTokenClaims, AccessTokenValidator } from '../tokens';
import { formOf } from './request-state';

/** RFC 7662 §2.1 / RFC 7009 §2.1: `token` is required. */
export const requireTokenParam: RequestHandler = (_req, res, next) => {
  next(formOf(res).token === undefined ? invalidRequest('The token parameter is required.') : undefined);
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
