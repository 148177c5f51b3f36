import { TokenRejected, type AccessTokenClaims, type AccessTokenVerifier } from '../tokens';

/** Turns a bearer token into trusted claims, or throws TokenRejected. Each guard mode is one of these. */
export interface AccessTokenValidator {
  validate(token: string): Promise<AccessTokenClaims>;
}

/** The guard's view of revocation state: the registry implements it for the local guard. */
export interface TokenStatusSource {
  tokenStatus(jti: string, clientId: string): Promise<'active' | 'revoked' | 'client_disabled' | 'client_unknown'>;
}

const STATUS_REASONS = {
  revoked: 'The access token was revoked.',
  client_disabled: 'The client of this access token is disabled.',
  client_unknown: 'The client of this access token no longer exists.',
} as const;

/**
 * Signature and claims through the shared verifier (cached), then the registry's current word on
 * revocation and the client, asked on every request so a revoke or disable takes effect at once.
 */
export function verifyingValidator(verifier: AccessTokenVerifier, status?: TokenStatusSource): AccessTokenValidator {
  return {
    async validate(token) {
      const claims = await verifier.verify(token);
      if (status) {
        const state = await status.tokenStatus(claims.jti, claims.client_id);
        if (state !== 'active') throw new TokenRejected(STATUS_REASONS[state]);
      }
      return claims;
    },
  };
}
