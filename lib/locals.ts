import type { ClientCredentials } from './registry';
import type { VerifiedDpopProof } from './tokens/dpop';

/** The parsed form of a token, introspection or revocation request: names to non-empty values. */
export type FormParams = Readonly<Record<string, string | undefined>>;

/**
 * What ccgate keeps in `res.locals` during a request. Merged into Express's `Locals` below, so
 * every handler reads these typed, without a cast. Modules that read them `import type {} from`
 * this file, which puts the merge in their program.
 */
export interface CcgateLocals {
  /** The request's id in audit events, echoed as X-Request-Id. */
  requestId?: string;
  /** Issuer endpoints: the strictly parsed form body (RFC 6749 §3.2). */
  form?: FormParams;
  /** Issuer endpoints: the client that authenticated (RFC 6749 §2.3). */
  client?: ClientCredentials;
  /** Token endpoint: the request's verified DPoP proof (RFC 9449 §4.3), the token's key to be bound to. */
  dpop?: VerifiedDpopProof;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express declares Locals in this namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging
    interface Locals extends CcgateLocals {}
  }
}
