import { createHash } from 'node:crypto';

/** A PostgreSQL identifier, double-quoted (inner quotes doubled): any schema or table name is safe in SQL text. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** rate-limiter-flexible's table (migration 3): its columns are the ones RateLimiterPostgres reads and writes. */
export const THROTTLE_TABLE = 'throttle';

const TABLES = [
  'groups',
  'group_scopes',
  'clients',
  'client_groups',
  'client_secrets',
  'resources',
  'resource_scopes',
  'revoked_tokens',
  'signing_keys',
  'replay',
  'ccgate_changes',
  'ccgate_migrations',
  THROTTLE_TABLE,
] as const;
export type TableName = (typeof TABLES)[number];

/** Schema-qualified, quoted names of every table: SQL never depends on the session's search_path. */
export type Tables = Readonly<Record<TableName, string>>;

export function tablesIn(schema: string): Tables {
  const schemaName = quoteIdent(schema);
  return Object.fromEntries(TABLES.map((table) => [table, `${schemaName}.${quoteIdent(table)}`])) as Record<TableName, string>;
}

/** What an advisory lock protects; each schema has its own locks, so two ccgate schemas never wait on each other. */
export type LockPurpose = 'migrate' | 'keys' | 'prune';

/** A 64-bit advisory lock key (as text, for a `$1::bigint` parameter) derived from the schema name and the purpose. */
export function lockKey(schema: string, purpose: LockPurpose): string {
  const digest = createHash('sha256').update(`ccgate:${purpose}:${schema}`).digest();
  return digest.readBigInt64BE(0).toString();
}
