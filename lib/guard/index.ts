export { createGuard, type AuthInfo, type Guard } from './guard';
export type { GuardOptions, GuardDpopOptions, RemoteGuardOptions, JwksRemoteGuardOptions, IntrospectionRemoteGuardOptions } from './options';
export type { DpopReplayStore } from './dpop';
export { MemoryReplayStore } from './memory-replay';
export { protectedResourceMetadataUrl, PROTECTED_RESOURCE_WELL_KNOWN, type ProtectedResourceOptions } from './resource-metadata';
export { remoteGuard } from './remote';
export { extractBearerToken, type BearerSource, type Extraction } from './bearer';
export type { FetchLike } from './http-json';
