import { TokenRejected } from '../errors';
import type { AccessTokenClaims } from './claims';
import type { TokenStatusSource } from './status';
import type { AccessTokenVerifier } from './verifier';

/** Turns a bearer token into trusted claims, or throws TokenRejected. Each guard mode is one of these. */
export interface AccessTokenValidator {
  validate(token: string): Promise<AccessTokenClaims>;
}

const STATUS_MESSAGES = {
  revoked: 'The access token was revoked.',
  client_disabled: 'The client of this access token is disabled.',
  client_unknown: 'The client of this access token no longer exists.',
} as const;

/**
 * Signature and claims through the shared verifier (cached), then, when a status source is given,
 * its current word on revocation and the client, asked on every call so a revoke or disable takes
 * effect at once. Used by the local guard, the remote guard (JWKS mode) and introspection.
 */
export function verifyingValidator(verifier: AccessTokenVerifier, status?: TokenStatusSource): AccessTokenValidator {
  return {
    async validate(token) {
      const claims = await verifier.verify(token);
      if (status) {
        const state = await status.tokenStatus(claims.jti, claims.client_id);
        if (state !== 'active') throw new TokenRejected(state, STATUS_MESSAGES[state]);
      }
      return claims;
    },
  };
}
