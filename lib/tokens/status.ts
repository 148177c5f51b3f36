/** The issuer's current word on a validly signed token: revoked, or its client disabled or gone. */
export type TokenStatus = 'active' | 'revoked' | 'client_disabled' | 'client_unknown';

/** Where the guard asks for it (the registry implements it); the guard knows nothing else of the registry. */
export interface TokenStatusSource {
  tokenStatus(jti: string, clientId: string): Promise<TokenStatus>;
}
