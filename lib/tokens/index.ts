export { ACCESS_TOKEN_TYP, MAX_TOKEN_LIFETIME_SECONDS, buildClaims, type AccessTokenClaims, type ClaimsInput } from './claims';
export { signAccessToken, readHeader, type JoseHeader } from './jwt';
export { jwkThumbprint, publicJwkOf, SIGNING_ALGORITHMS, type PublicJwk, type SigningAlgorithm } from './jwk';
export { Keyring, type KeySource, type SigningKey, type StoredKey, type VerificationKey, type VerificationKeys } from './keyring';
export { AccessTokenVerifier, assertLifetime, DEFAULT_ALGORITHMS, type VerifierOptions } from './verifier';
export { VerifiedTokenCache, type VerifiedCacheOptions } from './verified-cache';
export { verifyingValidator, type AccessTokenValidator } from './validation';
export type { TokenStatus, TokenStatusSource } from './status';
