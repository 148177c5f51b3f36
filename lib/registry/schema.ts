import type Database from 'better-sqlite3';

/**
 * Schema migrations, applied in order; all the pending ones run in one IMMEDIATE transaction, so a
 * file is never left half-migrated. `PRAGMA user_version` records how many have run, so a newer
 * ccgate opens an older file and brings it up to date. Never edit a migration that has shipped: add
 * the next one.
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
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the file up to SCHEMA_VERSION; refuses a file written by a newer ccgate. */
export function migrate(db: Database.Database, migrations: readonly string[] = MIGRATIONS): void {
  const apply = db.transaction(() => {
    // Read inside the (immediate) transaction so two processes never both apply a step.
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > migrations.length) {
      throw new Error(`This registry file has schema version ${current}, newer than this ccgate understands (${migrations.length}).`);
    }
    for (let version = current; version < migrations.length; version++) {
      db.exec(migrations[version]);
    }
    db.pragma(`user_version = ${migrations.length}`);
  });
  apply.immediate();
}
