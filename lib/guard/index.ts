export { createGuard, type AuthInfo, type Guard, type GuardOptions } from './guard';
export { remoteGuard, type RemoteGuardOptions } from './remote';
export { extractBearerToken, type BearerSource, type Extraction } from './bearer';
export { IssuerUnavailableError, metadataUrl, type FetchLike } from './http-json';
