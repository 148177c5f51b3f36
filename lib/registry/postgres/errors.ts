import { types } from 'node:util';
import { RegistryUnavailableError } from '../../errors';

/** Socket errors: the server cannot be reached, or the connection broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/**
 * SQLSTATEs of a server going away or refusing work for now: admin_shutdown, crash_shutdown,
 * cannot_connect_now (starting up, shutting down, recovery), too_many_connections, query_canceled
 * (statement_timeout: the server is too busy or a lock is held too long), lock_not_available.
 * Class 08 (connection exception) is matched as a class.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '55P03']);

/** node-postgres and pg-pool say these in words only (no code). */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/, // unexpectedly, or due to connection timeout (pg-pool)
  /^timeout exceeded when trying to connect$/, // pg-pool: no free connection within connectionTimeoutMillis
  /^timeout expired$/, // pg Client: connectionTimeoutMillis
  /^Query read timeout$/, // pg Client: query_timeout
  /is not queryable$/, // a client whose connection broke or closed
];

interface MaybeCoded {
  code?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** Whether `err` means the database cannot be reached or is going away, rather than refusing this statement. */
export function isUnavailable(err: unknown, depth = 0): boolean {
  if (!isError(err) || depth > 4) return false;
  const { code, errors, cause } = err as MaybeCoded;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(err.message))) return true;
  // Node's happy eyeballs reports every address tried in an AggregateError; pg-pool wraps its cause.
  if (Array.isArray(errors) && errors.some((inner) => isUnavailable(inner, depth + 1))) return true;
  return isUnavailable(cause, depth + 1);
}

/** RegistryUnavailableError (a 503 with Retry-After) for an unreachable database; any other error as it is. */
export function storageError(err: unknown): Error {
  if (err instanceof RegistryUnavailableError) return err;
  if (!isError(err)) return new Error(String(err));
  if (isUnavailable(err)) return new RegistryUnavailableError(`the registry database is unavailable: ${describe(err)}`, 1, { cause: err });
  return err;
}

/** Also an Error made in another realm (a vm context, as under jest), which `instanceof Error` misses. */
const isError = (value: unknown): value is Error => value instanceof Error || types.isNativeError(value);

/** An AggregateError's message may be empty: its code says it then. */
function describe(err: Error): string {
  const { code } = err as MaybeCoded;
  return err.message || (typeof code === 'string' ? code : err.name);
}
