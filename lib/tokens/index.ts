export { ACCESS_TOKEN_TYP, buildClaims, type AccessTokenClaims, type ClaimsInput } from './claims';
export { signAccessToken, readHeader, type JoseHeader } from './jwt';
export {
  Keyring,
  type KeySource,
  type PublicJwk,
  type SigningAlgorithm,
  type SigningKey,
  type StoredKey,
  type VerificationKey,
  type VerificationKeys,
} from './keyring';
export { AccessTokenVerifier, TokenRejected, DEFAULT_ALGORITHMS, type VerifierOptions } from './verifier';
export { VerifiedTokenCache, type VerifiedCacheOptions } from './verified-cache';
export { verifyingValidator, type AccessTokenValidator, type TokenStatusSource, type TokenState } from './validation';
