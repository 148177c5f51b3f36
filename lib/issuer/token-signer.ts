import { invalidScope } from '../errors';
import type { Registry } from '../registry';
import { buildClaims, signAccessToken, type AccessTokenClaims, type Keyring, type SigningAlgorithm } from '../tokens';

export interface TokenSignerConfig {
  registry: Registry;
  keyring: Keyring;
  issuer: string;
  audience: string | string[];
  algorithm: SigningAlgorithm;
  /** Longest token the guards accept: a longer one is refused here, not after it was handed out. */
  maxTokenLength: number;
}

/** What a token is restricted to, beyond its client and scopes. */
export interface TokenBinding {
  /** The resource the token is for (RFC 8707); undefined: the configured audience. */
  audience?: string;
  /** The DPoP key (RFC 7638 thumbprint) the token is bound to (RFC 9449 §6.1); undefined: a bearer token. */
  jkt?: string;
}

export interface IssuedToken {
  token: string;
  claims: AccessTokenClaims;
}

/** Builds, signs and accounts for access tokens. */
export class TokenSigner {
  /** Per kid, the latest expiry already recorded in the registry (so we write about once a minute, not per token). */
  private readonly recordedUntil = new Map<string, number>();

  constructor(private readonly config: TokenSignerConfig) {}

  async issue(clientId: string, scopes: string[], lifetimeSeconds: number, binding: TokenBinding = {}): Promise<IssuedToken> {
    const key = await this.config.keyring.signingKey(this.config.algorithm);
    const claims = buildClaims({
      issuer: this.config.issuer,
      audience: binding.audience ?? this.config.audience,
      clientId,
      scopes,
      lifetimeSeconds,
      now: Math.floor(Date.now() / 1000),
      jkt: binding.jkt,
    });
    const token = await signAccessToken(claims, key);
    if (token.length > this.config.maxTokenLength) {
      throw invalidScope(
        `The token for these scopes would be ${token.length} characters, more than the ${this.config.maxTokenLength} the resource servers accept: request fewer scopes.`,
      );
    }
    // Checked here, not in recordUse: nearly every token finds its expiry recorded, and then costs no await.
    if ((this.recordedUntil.get(key.kid) ?? 0) < claims.exp) await this.recordUse(key.kid, claims.exp);
    return { token, claims };
  }

  /** A retired key stays published until its last token expires: the registry must know that expiry. */
  private async recordUse(kid: string, exp: number): Promise<void> {
    await this.config.registry.recordKeyUse(kid, exp);
    const stored = (await this.config.registry.listKeys()).find((k) => k.kid === kid)?.signedUntil ?? exp;
    this.recordedUntil.set(kid, stored);
  }
}
