import type { Request } from 'express';
import {
  DpopProofRejected,
  InvalidDpopProofError,
  InvalidTokenError,
  UseDpopNonceError,
  type BearerChallenge,
  type OAuthError,
  type TokenScheme,
} from '../errors';
import { DPOP_ALGORITHMS, htuOf, verifyDpopProof, type AccessTokenClaims, type DpopNonces } from '../tokens';
import { headerCount } from '../headers';
import { replayId } from '../replay-id';
import { boundJkt } from '../tokens/claims';

/** Where the guard remembers the proofs' jti it has seen (RFC 9449 §11.1): the registry's replay cache, or memory. */
export interface DpopReplayStore {
  /** false: `id` was already used (and not expired). */
  useOnce(id: string, expiresAt: number): Promise<boolean>;
}

export interface DpopGuardConfig {
  /** Accept DPoP-bound tokens only (RFC 9449 §7.1); default: Bearer tokens keep working. */
  required: boolean;
  /** Resource-server nonces (RFC 9449 §9), or none. */
  nonces: DpopNonces | null;
  /** The public origin the clients call (e.g. https://api.example.com), for `htu`; null: the request's own (Express's req.protocol and Host, so set `trust proxy` behind a proxy). */
  publicBaseUrl: string | null;
  windowSeconds: number;
  clockToleranceSeconds: number;
  maxProofLength: number;
  replay: DpopReplayStore;
}

/** The challenge of a resource that accepts DPoP (RFC 9449 §7.1): Bearer too unless DPoP is required. */
export function dpopChallenge(config: DpopGuardConfig, base: BearerChallenge): BearerChallenge {
  const schemes: TokenScheme[] = config.required ? ['DPoP'] : ['Bearer', 'DPoP'];
  return { ...base, schemes, dpopAlgs: DPOP_ALGORITHMS };
}

/** The URL the client called, as a DPoP proof's htu names it: scheme, host and path (RFC 9449 §4.3 item 9). */
export function requestHtu(req: Request, publicBaseUrl: string | null): string | null {
  const path = (req.originalUrl || req.url).split('?')[0];
  // req.host (Express 5) honours X-Forwarded-Host, and req.protocol X-Forwarded-Proto, when `trust proxy` trusts the peer.
  const origin = publicBaseUrl ?? `${req.protocol}://${req.host ?? ''}`;
  return htuOf(`${origin}${path}`);
}

/** The DPoP header (RFC 9449 §4.3 item 1: exactly one): absent, repeated, or the proof. */
function proofHeader(req: Request): { proof: string } | 'missing' | 'several' {
  const count = headerCount(req.rawHeaders, 'dpop');
  if (count > 1) return 'several';
  const proof = req.headers.dpop;
  return count === 0 || typeof proof !== 'string' ? 'missing' : { proof };
}

/**
 * RFC 9449 §7: a token bound to a key (cnf.jkt) is accepted only as `Authorization: DPoP` with a
 * proof by that key for this request and token; an unbound token only as Bearer (and not at all when
 * DPoP is required). The answer: the key thumbprint (null for a bearer token), or the error to send.
 */
export async function checkSenderConstraint(
  req: Request,
  scheme: TokenScheme,
  token: string,
  claims: AccessTokenClaims,
  config: DpopGuardConfig,
  challenge: BearerChallenge,
): Promise<{ jkt: string | null } | OAuthError> {
  const jkt = boundJkt(claims);
  const refuse = (description: string): OAuthError => new InvalidTokenError(description, { ...challenge, used: scheme });
  if (jkt === null) {
    if (config.required) return refuse('This resource requires a DPoP-bound access token (RFC 9449).');
    return scheme === 'Bearer' ? { jkt: null } : refuse('The access token is not DPoP-bound: send it with the Bearer scheme.');
  }
  // §7.1: a bound token presented as a bearer token is refused: it may have been stolen.
  if (scheme === 'Bearer') return refuse('The access token is bound to a DPoP key: send it with the DPoP scheme and a DPoP proof.');
  const header = proofHeader(req);
  if (header === 'missing') return new InvalidDpopProofError('A DPoP proof is required with a DPoP-bound access token.', challenge);
  if (header === 'several') return new InvalidDpopProofError('Send exactly one DPoP header.', challenge);
  const htu = requestHtu(req, config.publicBaseUrl);
  if (htu === null) return new InvalidDpopProofError('The request URL cannot be checked against the DPoP proof.', challenge);
  try {
    const verified = await verifyDpopProof(header.proof, {
      htm: req.method,
      htu,
      accessToken: token,
      nonce: config.nonces ? (nonce) => config.nonces?.accepts(nonce) === true : undefined,
      windowSeconds: config.windowSeconds,
      clockToleranceSeconds: config.clockToleranceSeconds,
      maxLength: config.maxProofLength,
    });
    if (verified.jkt !== jkt) return new InvalidDpopProofError('The DPoP proof is signed by another key than the one the access token is bound to.', challenge);
    if (!(await config.replay.useOnce(replayId(verified.jkt, verified.jti), verified.replayUntil))) {
      return new InvalidDpopProofError('This DPoP proof was used before.', challenge);
    }
    return { jkt };
  } catch (err) {
    if (!(err instanceof DpopProofRejected)) throw err;
    if (err.reason === 'use_nonce' && config.nonces) return new UseDpopNonceError(config.nonces.current(), challenge);
    return new InvalidDpopProofError(err.message, challenge);
  }
}
