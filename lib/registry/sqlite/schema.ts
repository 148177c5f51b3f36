import type Database from 'better-sqlite3';

/**
 * Schema migrations, applied in order. `PRAGMA user_version` records how many have run. Opening a
 * file that is behind runs every pending one, and the version bump, in one IMMEDIATE transaction:
 * the version is read again under the write lock, so two processes opening the same old file never
 * both apply a step, and a failing step rolls the file back to where it was. A file that is up to
 * date is not written at all. Never edit a migration that has shipped: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: groups, clients, secrets, revocations, signing keys.
  `
  CREATE TABLE groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE group_scopes (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    scope    TEXT NOT NULL,
    PRIMARY KEY (group_id, scope)
  ) WITHOUT ROWID;
  CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('confidential', 'public')),
    grant_types TEXT NOT NULL,
    token_ttl   INTEGER,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE client_groups (
    client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    group_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, group_id)
  ) WITHOUT ROWID;
  CREATE INDEX client_groups_by_group ON client_groups(group_id);
  CREATE TABLE client_secrets (
    id          INTEGER PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
  );
  CREATE INDEX client_secrets_by_client ON client_secrets(client_id);
  CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    client_id  TEXT,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens(expires_at);
  CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    private_pem  TEXT NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    retires_at   INTEGER,
    signed_until INTEGER
  ) WITHOUT ROWID;
  `,
  // 2: single-use ids (client assertion and DPoP jti replay caches) and the failure throttle's
  // counters. `throttle` is exactly the table rate-limiter-flexible's RateLimiterSQLite would create
  // (key, points, expire in ms; its keyPrefix keeps families apart), made here so that the schema
  // has one owner; the expiry indexes serve the prune.
  `
  CREATE TABLE replay (
    namespace  TEXT NOT NULL,
    id         TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, id)
  ) WITHOUT ROWID;
  CREATE INDEX replay_by_expiry ON replay(expires_at);
  CREATE TABLE throttle (
    key    TEXT PRIMARY KEY,
    points INTEGER NOT NULL DEFAULT 0,
    expire INTEGER
  );
  CREATE INDEX throttle_by_expiry ON throttle(expire);
  `,
  // 3: how each client authenticates (existing clients keep client_secret_basic), a private_key_jwt
  // client's public keys (a JWK Set as JSON, or its URL), and the resources of RFC 8707.
  `
  ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret_basic'
    CHECK (auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt'));
  ALTER TABLE clients ADD COLUMN jwks TEXT;
  ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
  CREATE TABLE resources (
    uri        TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE resource_scopes (
    uri   TEXT NOT NULL REFERENCES resources(uri) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    PRIMARY KEY (uri, scope)
  ) WITHOUT ROWID;
  `,
  // 4: whether a client's token requests must carry a DPoP proof (RFC 9449 §5.2); existing clients
  // keep what they had: a proof is allowed, not required.
  `
  ALTER TABLE clients ADD COLUMN dpop TEXT NOT NULL DEFAULT 'allowed' CHECK (dpop IN ('allowed', 'required'));
  `,
];

/** rate-limiter-flexible's table (migration 2). */
export const THROTTLE_TABLE = 'throttle';

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the file up to the latest version; refuses a file written by a newer ccgate. */
export function migrate(db: Database.Database, migrations: readonly string[] = MIGRATIONS): void {
  // Read first without a lock: an up-to-date file (every open but the first) is never written.
  if (versionOf(db, migrations) === migrations.length) return;
  db.transaction(() => {
    // Read again under the write lock: another process may have migrated meanwhile.
    const current = versionOf(db, migrations);
    for (let version = current; version < migrations.length; version++) db.exec(migrations[version]);
    if (current < migrations.length) db.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}

function versionOf(db: Database.Database, migrations: readonly string[]): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`This registry file has schema version ${current}, newer than this ccgate understands (${migrations.length}).`);
  }
  return current;
}
