import type pg from 'pg';
import { lockKey, quoteIdent, tablesIn } from './names';
import { withClient } from './pool';

/**
 * Schema migrations, applied in order, each in its own transaction with search_path set to the
 * schema (so the SQL below names tables without one). ccgate_migrations records which have run.
 * Never edit a migration that has shipped: add the next one. Column names follow the SQLite schema
 * (lib/registry/sqlite/schema.ts); types are PostgreSQL's own (boolean, text[], json, bigint Unix
 * seconds). Names and scopes sort with COLLATE "C": byte order, as in SQLite and in JavaScript.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: groups, clients, secrets, revocations, signing keys, replay caches.
  `
  CREATE TABLE groups (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text COLLATE "C" NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 64),
    created_at bigint NOT NULL
  );
  CREATE TABLE group_scopes (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    scope    text COLLATE "C" NOT NULL CHECK (scope <> ''),
    PRIMARY KEY (group_id, scope)
  );
  CREATE TABLE clients (
    client_id   text COLLATE "C" PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    type        text NOT NULL CHECK (type IN ('confidential', 'public')),
    grant_types text[] NOT NULL,
    token_ttl   integer CHECK (token_ttl BETWEEN 1 AND 86400),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL
  );
  CREATE INDEX clients_by_creation ON clients (created_at, client_id);
  CREATE TABLE client_groups (
    client_id text COLLATE "C" NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    group_id  bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, group_id)
  );
  CREATE INDEX client_groups_by_group ON client_groups (group_id);
  CREATE TABLE client_secrets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id   text COLLATE "C" NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    secret_hash text NOT NULL,
    created_at  bigint NOT NULL,
    expires_at  bigint
  );
  CREATE INDEX client_secrets_by_client ON client_secrets (client_id);
  -- At most one current secret per client (an overlapping old one has an expiry).
  CREATE UNIQUE INDEX client_secrets_one_current ON client_secrets (client_id) WHERE expires_at IS NULL;
  -- No foreign key: a revocation outlives the deletion of its client, until the token expires.
  CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY CHECK (char_length(jti) BETWEEN 1 AND 256),
    client_id  text,
    expires_at bigint NOT NULL,
    revoked_at bigint NOT NULL
  );
  CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
  CREATE TABLE signing_keys (
    kid          text COLLATE "C" PRIMARY KEY,
    alg          text NOT NULL CHECK (alg IN ('RS256', 'ES256')),
    private_pem  text NOT NULL,
    public_jwk   json NOT NULL,
    created_at   bigint NOT NULL,
    activates_at bigint NOT NULL,
    retires_at   bigint,
    signed_until bigint
  );
  CREATE INDEX signing_keys_by_alg ON signing_keys (alg);
  CREATE TABLE replay (
    namespace  text NOT NULL,
    id         text NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (namespace, id)
  );
  CREATE INDEX replay_by_expiry ON replay (expires_at);
  `,
  // 2: the change feed. Statement-level triggers on every table whose content instances cache bump a
  // one-row counter and NOTIFY a channel of this schema with the new value; statements that change no
  // row (the transition table is empty) announce nothing. The counter row is updated in the writing
  // transaction, so it moves exactly when that commits: instances that miss a notification see it.
  `
  CREATE TABLE ccgate_changes (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    channel   text NOT NULL,
    counter   bigint NOT NULL DEFAULT 0
  );
  -- Notifications are per database: a channel per schema keeps two ccgate schemas apart.
  INSERT INTO ccgate_changes (channel) VALUES ('ccgate_' || md5(current_schema()));
  CREATE FUNCTION ccgate_announce() RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  DECLARE
    target text;
    value  bigint;
  BEGIN
    UPDATE ccgate_changes SET counter = counter + 1 RETURNING channel, counter INTO target, value;
    PERFORM pg_notify(target, value::text);
  END $$;
  CREATE FUNCTION ccgate_rows_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  BEGIN
    IF EXISTS (SELECT FROM changed_rows) THEN
      PERFORM ccgate_announce();
    END IF;
    RETURN NULL;
  END $$;
  CREATE FUNCTION ccgate_truncated() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  BEGIN
    PERFORM ccgate_announce();
    RETURN NULL;
  END $$;
  DO $$
  DECLARE
    watched text;
  BEGIN
    FOREACH watched IN ARRAY ARRAY['groups', 'group_scopes', 'clients', 'client_groups', 'client_secrets', 'revoked_tokens', 'signing_keys'] LOOP
      -- A trigger with a transition table serves one event: three of them, and one for TRUNCATE.
      EXECUTE format('CREATE TRIGGER ccgate_inserted AFTER INSERT ON %I REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION ccgate_rows_changed()', watched);
      EXECUTE format('CREATE TRIGGER ccgate_updated AFTER UPDATE ON %I REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION ccgate_rows_changed()', watched);
      EXECUTE format('CREATE TRIGGER ccgate_deleted AFTER DELETE ON %I REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION ccgate_rows_changed()', watched);
      EXECUTE format('CREATE TRIGGER ccgate_truncated AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION ccgate_truncated()', watched);
    END LOOP;
  END $$;
  `,
  // 3: the failure throttle's counters: exactly the table rate-limiter-flexible's RateLimiterPostgres
  // would create (key, points, expire in ms; its keyPrefix keeps families apart), made here so the
  // schema has one owner (the limiter runs with tableCreated). The expiry index serves the prune.
  `
  CREATE TABLE throttle (
    key    varchar(255) PRIMARY KEY,
    points integer NOT NULL DEFAULT 0,
    expire bigint
  );
  CREATE INDEX throttle_by_expiry ON throttle (expire);
  `,
  // 4: how each client authenticates (existing clients keep client_secret_basic), a private_key_jwt
  // client's public keys (a JWK Set, or its URL), and the resources of RFC 8707, announced by the
  // change feed like every other cached table (migration 2's functions).
  `
  ALTER TABLE clients ADD COLUMN auth_method text NOT NULL DEFAULT 'client_secret_basic'
    CHECK (auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt'));
  ALTER TABLE clients ADD COLUMN jwks json;
  ALTER TABLE clients ADD COLUMN jwks_uri text;
  CREATE TABLE resources (
    uri        text COLLATE "C" PRIMARY KEY CHECK (char_length(uri) BETWEEN 1 AND 512),
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE TABLE resource_scopes (
    uri   text COLLATE "C" NOT NULL REFERENCES resources (uri) ON DELETE CASCADE,
    scope text COLLATE "C" NOT NULL CHECK (scope <> ''),
    PRIMARY KEY (uri, scope)
  );
  DO $$
  DECLARE
    watched text;
  BEGIN
    FOREACH watched IN ARRAY ARRAY['resources', 'resource_scopes'] LOOP
      EXECUTE format('CREATE TRIGGER ccgate_inserted AFTER INSERT ON %I REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION ccgate_rows_changed()', watched);
      EXECUTE format('CREATE TRIGGER ccgate_updated AFTER UPDATE ON %I REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION ccgate_rows_changed()', watched);
      EXECUTE format('CREATE TRIGGER ccgate_deleted AFTER DELETE ON %I REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION ccgate_rows_changed()', watched);
      EXECUTE format('CREATE TRIGGER ccgate_truncated AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION ccgate_truncated()', watched);
    END LOOP;
  END $$;
  `,
  // 5: whether a client's token requests must carry a DPoP proof (RFC 9449 §5.2); existing clients
  // keep what they had: a proof is allowed, not required. The clients table is watched already.
  `
  ALTER TABLE clients ADD COLUMN dpop text NOT NULL DEFAULT 'allowed' CHECK (dpop IN ('allowed', 'required'));
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the schema up to date. Several instances starting at once migrate exactly once: each takes
 * a session-level advisory lock of this schema first and reads the version under it. A schema
 * migrated by a newer ccgate is refused.
 */
export async function migrate(pool: pg.Pool, schema: string, migrations: readonly string[] = MIGRATIONS): Promise<void> {
  const key = lockKey(schema, 'migrate');
  await withClient(pool, async (client) => {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    // On failure the connection is discarded (withClient), which ends the session and its lock.
    await migrateLocked(client, schema, migrations);
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
  });
}

async function migrateLocked(client: pg.PoolClient, schema: string, migrations: readonly string[]): Promise<void> {
  await ensureBookkeeping(client, schema);
  const current = await appliedVersion(client, schema);
  if (current > migrations.length) {
    throw new Error(`The registry schema "${schema}" has version ${current}, newer than this ccgate understands (${migrations.length}).`);
  }
  for (let version = current + 1; version <= migrations.length; version++) {
    await applyOne(client, schema, version, migrations[version - 1]);
  }
}

/** The schema (only if missing: CREATE SCHEMA needs a privilege an existing schema does not) and the migrations table. */
async function ensureBookkeeping(client: pg.PoolClient, schema: string): Promise<void> {
  const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (found.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${tablesIn(schema).ccgate_migrations} (version integer PRIMARY KEY, applied_at bigint NOT NULL)`);
}

async function appliedVersion(client: pg.PoolClient, schema: string): Promise<number> {
  const result = await client.query<{ version: number }>(`SELECT coalesce(max(version), 0) AS version FROM ${tablesIn(schema).ccgate_migrations}`);
  return result.rows[0].version;
}

async function applyOne(client: pg.PoolClient, schema: string, version: number, sql: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
    await client.query(sql);
    await client.query(`INSERT INTO ${tablesIn(schema).ccgate_migrations} (version, applied_at) VALUES ($1, extract(epoch FROM now())::bigint)`, [version]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
