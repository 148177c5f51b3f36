export { ACCESS_TOKEN_TYP, MAX_TOKEN_LIFETIME_SECONDS, buildClaims, type AccessTokenClaims, type ClaimsInput } from './claims';
export { signAccessToken, readHeader, type JoseHeader } from './jwt';
export { jwkThumbprint, publicJwkOf, SIGNING_ALGORITHMS, type PublicJwk, type SigningAlgorithm } from './jwk';
export { JWS_ALGORITHMS, verifyJws, type JwsAlgorithm, type JwsCheck, type JwsFailure, type JwsKey, type JwsVerification } from './jws';
export {
  MAX_CLIENT_JWKS_BYTES,
  MAX_CLIENT_KEYS,
  parseClientJwks,
  readFetchedJwks,
  readPublicJwk,
  StaticKeySet,
  type ClientJwks,
  type ClientKeys,
  type ClientPublicJwk,
  type EcClientJwk,
  type RsaClientJwk,
} from './jwk-set';
export {
  ASSERTION_ALGORITHMS,
  assertionIssuer,
  CLIENT_ASSERTION_TYPE,
  verifyClientAssertion,
  type ClientAssertionCheck,
  type VerifiedAssertion,
} from './client-assertion';
export { accessTokenHash, DPOP_ALGORITHMS, htuOf, verifyDpopProof, type DpopProofCheck, type VerifiedDpopProof } from './dpop';
export { DpopNonces, type DpopNonceOptions } from './dpop-nonce';
export { Keyring, type KeySource, type SigningKey, type StoredKey, type VerificationKey, type VerificationKeys } from './keyring';
export { AccessTokenVerifier, ANY_AUDIENCE, assertLifetime, DEFAULT_ALGORITHMS, type VerifierOptions } from './verifier';
export { VerifiedTokenCache, type VerifiedCacheOptions } from './verified-cache';
export { verifyingValidator, type AccessTokenValidator } from './validation';
export type { TokenStatus, TokenStatusSource } from './status';
