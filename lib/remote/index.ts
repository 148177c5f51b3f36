// Fetching from URLs we were configured with (never from a token): the issuer's documents for the
// remote guard, clients' key sets for private_key_jwt. Neither the guard nor the issuer is imported here.
export { boundedGet, type BoundedGetOptions } from './bounded-get';
export { fetchJson, type FetchLike } from './fetch-json';
export { KeySetRefresher, RemoteKeySet, UNKNOWN_KID_FETCHES_PER_COOLDOWN, type HeldKeySet, type KeySetRefreshPolicy, type RemoteKeySetPolicy } from './key-set';
export { checkKeySetUrl, isLoopbackHost } from './key-set-url';
