import { headerCount } from '../headers';
import { replayId } from '../replay-id';
import type { Request, RequestHandler, Response } from 'express';
import { DpopProofRejected, invalidDpopProof, invalidRequest, useDpopNonce, type DpopRejectionReason, type TokenEndpointError } from '../errors';
import type { AuditEvents } from '../events';
import type { Registry } from '../registry';
import { DPOP_ALGORITHMS, verifyDpopProof, type DpopProofCheck } from '../tokens/dpop';
import { clientOf } from './request-state';

/** The replay cache's namespace for DPoP proofs (RFC 9449 §11.1: a proof is used once). */
export const DPOP_REPLAY_NAMESPACE = 'dpop_proof';

/** RFC 9449 §4.1: the request header carrying the proof. */
const DPOP_HEADER = 'dpop';

/** Server-provided nonces (RFC 9449 §8): a DpopNonces, or anything that answers like one. */
export interface DpopNonceSource {
  /** The nonce to hand out now. */
  current(): string;
  /** Whether a proof's nonce is one this server handed out and still accepts. */
  accepts(nonce: string): boolean;
}

export interface DpopBindingConfig {
  /** Every proof's htu (RFC 9449 §4.3 item 9): the token endpoint's configured public URL, never one built from the Host header. */
  tokenEndpoint: string;
  /** How far a proof's iat may be from now, in seconds. */
  proofWindowSeconds: number;
  clockToleranceSeconds: number;
  /** Longest proof read, in characters. */
  maxProofLength: number;
  /** None: proofs need no nonce. */
  nonces?: DpopNonceSource;
  registry: Pick<Registry, 'useOnce'>;
  events: AuditEvents;
}

type RefusalReason = DpopRejectionReason | 'several' | 'missing';

/**
 * What a client author is told per refusal: fixed texts in RFC 6749 §5.2's error_description
 * characters (no quote, no backslash), whatever the proof held.
 */
function descriptions(config: DpopBindingConfig): Record<Exclude<RefusalReason, 'missing'>, string> {
  return {
    several: 'Send one DPoP header, not several (RFC 9449 section 4.3).',
    malformed: 'The DPoP proof is not a JWT with the header and claims RFC 9449 section 4.2 requires.',
    too_long: `The DPoP proof is longer than ${config.maxProofLength} characters.`,
    wrong_type: 'The DPoP proof typ must be dpop+jwt (RFC 9449 section 4.2).',
    unsupported_algorithm: `The DPoP proof must be signed with one of ${DPOP_ALGORITHMS.join(', ')} (RFC 9449 section 4.3).`,
    bad_key: 'The DPoP proof jwk must be a public key fit for its alg, without private members (RFC 9449 section 4.2).',
    bad_signature: 'The DPoP proof signature does not verify with its jwk.',
    wrong_method: 'The DPoP proof htm must be POST (RFC 9449 section 4.3).',
    wrong_url: `The DPoP proof htu must be ${config.tokenEndpoint} (RFC 9449 section 4.3).`,
    stale: `The DPoP proof iat must be within ${config.proofWindowSeconds} seconds of now (RFC 9449 section 4.3).`,
    missing_jti: 'The DPoP proof has no jti (RFC 9449 section 4.2).',
    wrong_ath: 'A DPoP proof at the token endpoint has no ath: a token request carries no access token.',
    use_nonce: 'The DPoP proof must carry the nonce this server gave in DPoP-Nonce (RFC 9449 section 8).',
    replayed: 'This DPoP proof was used before: make a new proof for every request (RFC 9449 section 11.1).',
    key_mismatch: 'The DPoP proof key is not the one this request needs.',
  };
}

/**
 * RFC 9449 at the token endpoint, in two steps around client authentication. `checkProof` runs
 * before it: the header count, the proof's signature and claims and, with nonces, its nonce (RFC
 * 9449 §4.3, §8), all cheap next to a bcrypt run, so a bad proof costs none. `bindProof` runs after
 * it: a client that must use DPoP sent a proof (§5.2), and the proof's jti is recorded once in the
 * registry's replay cache (§11.1), shared by every instance, so only authenticated clients write
 * there. The verified proof is left in res.locals.dpop for the token to be bound to (§6.1).
 */
export class DpopBinding {
  private readonly texts: ReturnType<typeof descriptions>;
  private readonly check: DpopProofCheck;

  constructor(private readonly config: DpopBindingConfig) {
    this.texts = descriptions(config);
    const { nonces } = config;
    this.check = {
      htm: 'POST',
      htu: config.tokenEndpoint,
      windowSeconds: config.proofWindowSeconds,
      clockToleranceSeconds: config.clockToleranceSeconds,
      maxLength: config.maxProofLength,
      ...(nonces ? { nonce: (nonce: string) => nonces.accepts(nonce) } : {}),
    };
  }

  /** Before client authentication: refuses a bad proof (400 invalid_dpop_proof, or use_dpop_nonce), keeps a good one. */
  readonly checkProof: RequestHandler = (req, res, next) => {
    // RFC 9449 §8.2: a fresh nonce on every answer from here on, errors and tokens alike.
    if (this.config.nonces) res.set('DPoP-Nonce', this.config.nonces.current());
    // RFC 9449 §4.3 item 1: exactly one.
    const count = headerCount(req.rawHeaders, DPOP_HEADER);
    if (count === 0) return next();
    if (count > 1) return next(this.refuse(req, res, 'several', null));
    const proof = req.headers[DPOP_HEADER];
    verifyDpopProof(typeof proof === 'string' ? proof : '', this.check).then(
      (verified) => {
        res.locals.dpop = verified;
        next();
      },
      (err: unknown) => next(err instanceof DpopProofRejected ? this.refuse(req, res, err.reason, null) : err),
    );
  };

  /** After client authentication: a `required` client without a proof is refused; a proof's jti is used once. */
  readonly bindProof: RequestHandler = (req, res, next) => {
    const client = clientOf(res);
    const proof = res.locals.dpop;
    if (proof === undefined) return next(client.dpop === 'required' ? this.refuse(req, res, 'missing', client.clientId) : undefined);
    this.config.registry
      .useOnce(DPOP_REPLAY_NAMESPACE, replayId(proof.jkt, proof.jti), proof.replayUntil)
      .then((fresh) => next(fresh ? undefined : this.refuse(req, res, 'replayed', client.clientId)), next);
  };

  /** The answer to a refused proof, and its audit event. */
  private refuse(req: Request, res: Response, reason: RefusalReason, clientId: string | null): TokenEndpointError {
    this.config.events.emit({ type: 'dpop.proof_rejected', reason, clientId, where: 'token_endpoint', address: req.ip, requestId: res.locals.requestId });
    if (reason === 'use_nonce' && this.config.nonces) return useDpopNonce(this.config.nonces.current());
    // RFC 9449 §5.2 (dpop_bound_access_tokens) says such a request MUST be rejected but names no
    // error: there is no proof to be invalid (invalid_dpop_proof, §5, is for a proof that fails the
    // checks), so it is RFC 6749 §5.2's invalid_request, a request missing something it requires.
    if (reason === 'missing') return invalidRequest('This client must send a DPoP proof with every token request (RFC 9449 section 5.2).');
    return invalidDpopProof(this.texts[reason]);
  }
}
