export { createGuard, type AuthInfo, type Guard } from './guard';
export type { GuardOptions, RemoteGuardOptions, JwksRemoteGuardOptions, IntrospectionRemoteGuardOptions } from './options';
export { remoteGuard } from './remote';
export { extractBearerToken, type BearerSource, type Extraction } from './bearer';
export type { FetchLike } from './http-json';
