export { createGuard, type AuthInfo, type Guard, type GuardOptions } from './guard';
export { extractBearerToken, type BearerSource, type Extraction } from './bearer';
export { verifyingValidator, type AccessTokenValidator, type TokenStatusSource } from './validator';
