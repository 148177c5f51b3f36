import { userInfo } from 'node:os';
import { DEFAULTS } from '../../defaults';
import { ConfigurationError } from '../../errors';

/** Settings of the PostgreSQL storage; every one optional. */
export interface PostgresOptions {
  /** Connections in the pool, per instance (default 10). The change listener holds one more of its own. */
  poolSize?: number;
  /** Milliseconds to establish a connection, or to wait for a free one in the pool, before giving up (default 2000). */
  connectTimeoutMs?: number;
  /**
   * Milliseconds a statement may run: PostgreSQL's statement_timeout on every pooled connection, and a
   * client-side timeout a second above it for a server that stopped answering (default 5000).
   */
  statementTimeoutMs?: number;
  /**
   * Longest time, in milliseconds, a cached answer may miss a change committed by another instance or
   * the CLI, even when notifications are lost or the listening connection is down (default 1000). The
   * change counter is polled twice per period.
   */
  maxStalenessMs?: number;
  /** Schema holding ccgate's tables (default: the URL's `schema` query parameter, else "public"); created if missing. */
  schema?: string;
}

/** The client-side query timeout exceeds statement_timeout by this: the server's own cancel normally comes first. */
export const QUERY_TIMEOUT_MARGIN_MS = 1000;

export interface ResolvedPostgresOptions extends Required<PostgresOptions> {
  /** The URL handed to pg: without the `schema` parameter, which pg does not know; with a user (see withUser). */
  connectionString: string;
}

/** Applies the defaults and checks every value; throws ConfigurationError naming the option. Synchronous, no I/O. */
export function resolvePostgresOptions(url: string, options: PostgresOptions = {}): ResolvedPostgresOptions {
  const { connectionString, schema: urlSchema } = splitSchema(url);
  const resolved = {
    connectionString: withUser(connectionString),
    poolSize: options.poolSize ?? DEFAULTS.postgres.poolSize,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.postgres.connectTimeoutMs,
    statementTimeoutMs: options.statementTimeoutMs ?? DEFAULTS.postgres.statementTimeoutMs,
    maxStalenessMs: options.maxStalenessMs ?? DEFAULTS.postgres.maxStalenessMs,
    schema: options.schema ?? urlSchema ?? DEFAULTS.postgres.schema,
  };
  for (const option of ['poolSize', 'connectTimeoutMs', 'statementTimeoutMs', 'maxStalenessMs'] as const) {
    const value = resolved[option];
    if (!Number.isSafeInteger(value) || value < 1) throw new ConfigurationError(`postgres.${option}`, `postgres.${option} must be a positive whole number`);
  }
  assertSchemaName(resolved.schema);
  return resolved;
}

/** The URL's `schema` query parameter, and the URL without it (unchanged when it has none, or is not a URL). */
function splitSchema(url: string): { connectionString: string; schema: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url, schema: undefined };
  }
  const schema = parsed.searchParams.get('schema');
  if (schema === null) return { connectionString: url, schema: undefined };
  parsed.searchParams.delete('schema');
  return { connectionString: parsed.toString(), schema };
}

/**
 * Any name PostgreSQL keeps as written: at most 63 bytes (longer ones are cut, so two could meet), no
 * NUL, and no double quote (rate-limiter-flexible quotes the schema without escaping).
 */
function assertSchemaName(schema: string): void {
  const bytes = Buffer.byteLength(schema);
  if (bytes < 1 || bytes > 63 || schema.includes('\0') || schema.includes('"')) {
    throw new ConfigurationError('postgres.schema', `postgres.schema must be 1 to 63 bytes, without NUL or '"' (got ${JSON.stringify(schema)})`);
  }
}

/**
 * libpq (psql) connects as the operating-system user when nothing names one; node-postgres only
 * looks at $USER, which containers and service managers often leave unset. So a URL without a user,
 * with neither PGUSER nor USER set, gets the OS user written into it, as psql would connect. (In
 * the URL, not as pg's `user` option: pg lets the connection string override that even when empty.)
 */
export function withUser(connectionString: string): string {
  if (process.env.PGUSER || process.env.USER) return connectionString;
  try {
    const parsed = new URL(connectionString);
    if (parsed.username !== '') return connectionString;
    parsed.username = encodeURIComponent(userInfo().username);
    return parsed.toString();
  } catch {
    return connectionString;
  }
}
