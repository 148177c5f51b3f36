import { ReasonedError } from './rejection';

/** Why a document fetched from a configured URL (a client's JWK Set) could not be used. */
export type RemoteFailure =
  /** Refused or dropped connections, DNS or TLS failures. */
  | 'unreachable'
  /** No connection within the connect timeout, or no complete answer within the total timeout. */
  | 'timeout'
  /** Larger than the bound, told by Content-Length or while reading. */
  | 'too_large'
  /** A 3xx: redirects are never followed. */
  | 'redirect'
  /** Another status than 200, not JSON, or not the document expected. */
  | 'bad_answer'
  /** Not https (nor http to a loopback host where that is allowed), or with credentials or a fragment. */
  | 'insecure_url';

/** A remote document could not be fetched or used; `reason` is stable, the message names the URL. */
export class RemoteFetchError extends ReasonedError<RemoteFailure> {}
