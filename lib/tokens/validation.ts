import { TokenRejected } from '../errors';
import type { AccessTokenClaims } from './claims';
import type { TokenStatus, TokenStatusSource } from './status';
import type { VerifiedToken } from './verified-cache';
import type { AccessTokenVerifier } from './verifier';

/** Turns a bearer token into trusted claims, or throws TokenRejected. Each guard mode is one of these. */
export interface AccessTokenValidator {
  validate(token: string): Promise<AccessTokenClaims>;
  /**
   * validate() with the split scope parsed once (the guard's path). Absent: the guard calls validate()
   * and splits the scope itself.
   */
  validateToken?(token: string): Promise<VerifiedToken>;
  /**
   * Synchronous, no I/O: the answer validate() would give when everything it depends on is already
   * known in memory (a verified-cache hit whose key is still published, and, with a status source, its
   * status remembered at the registry's current version): the validated token, or a TokenRejected
   * thrown. undefined only means "not known: call validate()". Absent: always call validate().
   */
  known?(token: string): VerifiedToken | undefined;
  /**
   * Runs synchronous `work` with every freshness check of this validator inside it (known(), and the
   * synchronous start of validateToken: the cache, the keys) answered by one look at what tells it of
   * changes, taken as `work` starts. The guard runs each request's synchronous part in it, so a token
   * seen for the first time costs one look there, not one per check. Absent: nothing to share.
   */
  atOneReading?<T>(work: () => T): T;
}

/**
 * A TokenStatusSource that can also answer from memory, synchronously (the registry). Both are what
 * tokenStatus would answer at that moment; undefined only means "ask tokenStatus".
 */
export interface RememberedTokenStatus extends TokenStatusSource {
  knownStatus(jti: string, clientId: string): TokenStatus | undefined;
  /**
   * Runs synchronous `work` with the source's change detection read once for all of it: every
   * freshness check inside (the keys' and the statuses') sees the same reading, taken when `work` starts.
   */
  atOneReading<T>(work: () => T): T;
  /** The change detection's reading now, without a second look inside atOneReading: handed back to tokenStatusAt. */
  changeReading(): number;
  /**
   * tokenStatus judged at `reading` while no change has been announced since it was taken (no new
   * look at the change feed), else as tokenStatus. A reading taken while a request was being handled
   * postdates its arrival, so the answer still reflects every change committed before the request.
   */
  tokenStatusAt(jti: string, clientId: string, reading: number): Promise<TokenStatus>;
}

const STATUS_MESSAGES = {
  revoked: 'The access token was revoked.',
  client_disabled: 'The client of this access token is disabled.',
  client_unknown: 'The client of this access token no longer exists.',
} as const;

const remembers = (status: TokenStatusSource): status is RememberedTokenStatus => {
  const s = status as Partial<RememberedTokenStatus>;
  return (
    typeof s.knownStatus === 'function' &&
    typeof s.atOneReading === 'function' &&
    typeof s.changeReading === 'function' &&
    typeof s.tokenStatusAt === 'function'
  );
};

function assertActive(state: TokenStatus): void {
  if (state !== 'active') throw new TokenRejected(state, STATUS_MESSAGES[state]);
}

/**
 * Signature and claims through the shared verifier (cached), then, when a status source is given,
 * its current word on revocation and the client, asked on every call so a revoke or disable takes
 * effect at once. Used by the local guard, the remote guard (JWKS mode) and introspection.
 */
export function verifyingValidator(verifier: AccessTokenVerifier, status?: TokenStatusSource): AccessTokenValidator {
  const remembered = status !== undefined && remembers(status) ? status : undefined;
  const validateToken = async (token: string): Promise<VerifiedToken> => {
    // Taken first: in the guard, the request's one reading, so the status after the await costs no second look.
    const reading = remembered?.changeReading();
    const verified = await verifier.verifyToken(token);
    const { jti, client_id: clientId } = verified.claims;
    if (remembered && reading !== undefined) assertActive(await remembered.tokenStatusAt(jti, clientId, reading));
    else if (status) assertActive(await status.tokenStatus(jti, clientId));
    return verified;
  };
  /** The cache's word and the status's, from memory: both judged at one reading of the registry's change detection. */
  const fromMemory = (token: string): VerifiedToken | undefined => {
    const verified = verifier.known(token);
    if (verified === undefined) return undefined;
    if (status !== undefined) {
      const state = (status as RememberedTokenStatus).knownStatus(verified.claims.jti, verified.claims.client_id);
      if (state === undefined) return undefined;
      verifier.countKnownHit();
      assertActive(state);
    } else verifier.countKnownHit();
    return verified;
  };
  let known: ((token: string) => VerifiedToken | undefined) | undefined;
  if (status === undefined) known = fromMemory;
  else if (remembered) known = (token) => remembered.atOneReading(() => fromMemory(token));
  return {
    validate: async (token) => (await validateToken(token)).claims,
    validateToken,
    ...(known ? { known } : {}),
    ...(remembered ? { atOneReading: <T>(work: () => T): T => remembered.atOneReading(work) } : {}),
  };
}
