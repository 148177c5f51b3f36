/**
 * Registry seeding for the bench, done in the orchestrator before a server starts, on a fresh
 * registry of either backend: a SQLite file in a temp dir, or a new PostgreSQL database
 * (bench/lib/postgres.ts). Both get the same data by the same steps, and differ only in where the
 * registry lives and in the connection the bulk rows go through.
 *
 * The registry itself (openRegistry on the path or URL) creates the schema, the group and the
 * signing keys. Clients are then inserted with direct SQL through a connection of our own, in one
 * transaction (createClient would run one bcrypt hash per client, ~85 ms each at cost 10): every
 * seeded client gets a distinct random client_id and the SAME cost-10 bcrypt hash of one shared
 * secret, hashed once per bench run with bcryptjs exactly as the registry does (bcrypt.hash(secret,
 * 10)). A compare against that hash costs what any cost-10 compare costs, and ccgate's secret cache is
 * keyed by client_id, so the first request of every client still runs a full bcrypt compare.
 * Revocations are direct SQL inserts as well (unexpired).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openRegistry, type SigningAlgorithm } from '../../lib';
import { SCOPE, type CompanionCpu } from './common';
import { tempDir } from './harness';
import { createDatabase, DatabaseCpu } from './postgres';

export const BCRYPT_COST = 10;

/** Where a seeded registry lives: a SQLite file, or a PostgreSQL database. */
export type Backend = 'sqlite' | 'postgres';
export const BACKEND_NAME: Record<Backend, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

const GROUP = 'bench-readers';

let shared: Promise<{ secret: string; hash: string }> | null = null;

/** One secret and its cost-10 hash, for the whole run. */
export function sharedSecret(): Promise<{ secret: string; hash: string }> {
  shared ??= (async () => {
    const secret = randomBytes(32).toString('base64url');
    return { secret, hash: await bcrypt.hash(secret, BCRYPT_COST) };
  })();
  return shared;
}

export interface SeedOptions {
  /** Default 'sqlite'. */
  backend?: Backend;
  clients: number;
  /** Revoked (not yet expired) token ids to insert. */
  revocations?: number;
  /** Signing keys created up front, so the server and the minter share them (default RS256). */
  algorithms?: SigningAlgorithm[];
}

export interface Seeded {
  backend: Backend;
  /** ccgate's `db`: the SQLite file path, or the postgres:// URL. */
  db: string;
  clientIds: string[];
  secret: string;
  seedSeconds: number;
  /** PostgreSQL: the database's name. */
  database?: string;
  /** PostgreSQL: the database's backend processes, whose CPU time is part of every request's cost. */
  companion?: CompanionCpu;
}

/** The rows every seeded registry gets, whatever the backend. */
interface BulkRows {
  clientIds: string[];
  hash: string;
  now: number;
  revocations: Array<{ jti: string; clientId: string }>;
}

/** Inserts `rows` in one transaction through a connection of our own. */
type BulkInsert = (rows: BulkRows) => Promise<void>;

interface Place {
  db: string;
  bulk: BulkInsert;
  database?: string;
  companion?: CompanionCpu;
}

function sqlitePlace(): Promise<Place> {
  const file = path.join(tempDir(), 'registry.db');
  const bulk: BulkInsert = (rows) => {
    const db = new Database(file);
    try {
      const groupId = (db.prepare('SELECT id FROM groups WHERE name = ?').get(GROUP) as { id: number }).id;
      const insertClient = db.prepare(
        `INSERT INTO clients (client_id, name, type, grant_types, token_ttl, enabled, created_at, updated_at)
         VALUES (?, ?, 'confidential', 'client_credentials', NULL, 1, ?, ?)`,
      );
      const insertMember = db.prepare('INSERT INTO client_groups (client_id, group_id) VALUES (?, ?)');
      const insertSecret = db.prepare('INSERT INTO client_secrets (client_id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, NULL)');
      const insertRevocation = db.prepare('INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)');
      db.transaction(() => {
        rows.clientIds.forEach((id, i) => {
          insertClient.run(id, `bench client ${i}`, rows.now, rows.now);
          insertMember.run(id, groupId);
          insertSecret.run(id, rows.hash, rows.now);
        });
        for (const r of rows.revocations) insertRevocation.run(r.jti, r.clientId, rows.now + 3600, rows.now);
      })();
    } finally {
      db.close();
    }
    return Promise.resolve();
  };
  return Promise.resolve({ db: file, bulk });
}

async function postgresPlace(): Promise<Place> {
  const database = await createDatabase();
  const bulk: BulkInsert = async (rows) => {
    const client = new pg.Client({ connectionString: database.connectionString });
    await client.connect();
    try {
      await client.query('BEGIN');
      const groups = await client.query<{ id: string }>('SELECT id FROM groups WHERE name = $1', [GROUP]);
      const groupId = groups.rows[0].id;
      const names = rows.clientIds.map((_, i) => `bench client ${i}`);
      // Arrays as single parameters: one statement per table, however many rows.
      await client.query(
        `INSERT INTO clients (client_id, name, type, grant_types, token_ttl, enabled, created_at, updated_at)
         SELECT id, name, 'confidential', ARRAY['client_credentials'], NULL, true, $3, $3 FROM unnest($1::text[], $2::text[]) AS c (id, name)`,
        [rows.clientIds, names, rows.now],
      );
      await client.query('INSERT INTO client_groups (client_id, group_id) SELECT unnest($1::text[]), $2', [rows.clientIds, groupId]);
      await client.query('INSERT INTO client_secrets (client_id, secret_hash, created_at, expires_at) SELECT unnest($1::text[]), $2, $3, NULL', [
        rows.clientIds,
        rows.hash,
        rows.now,
      ]);
      if (rows.revocations.length > 0) {
        await client.query(
          'INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) SELECT jti, id, $3, $4 FROM unnest($1::text[], $2::text[]) AS r (jti, id)',
          [rows.revocations.map((r) => r.jti), rows.revocations.map((r) => r.clientId), rows.now + 3600, rows.now],
        );
      }
      await client.query('COMMIT');
      // Planner statistics, as autovacuum would gather on a registry in service.
      await client.query('ANALYZE');
    } finally {
      await client.end();
    }
  };
  return { db: database.url, bulk, database: database.name, companion: new DatabaseCpu(database.name) };
}

const PLACES: Record<Backend, () => Promise<Place>> = { sqlite: sqlitePlace, postgres: postgresPlace };

export async function seedRegistry(options: SeedOptions): Promise<Seeded> {
  const started = Date.now();
  const backend = options.backend ?? 'sqlite';
  const { secret, hash } = await sharedSecret();
  const place = await PLACES[backend]();
  const registry = openRegistry(place.db, { bcryptCost: BCRYPT_COST, pruneIntervalSeconds: 0 });
  const clientIds = Array.from({ length: options.clients }, () => randomBytes(16).toString('base64url'));
  const revocations = Array.from({ length: options.revocations ?? 0 }, (_, i) => ({
    jti: randomBytes(16).toString('base64url'),
    clientId: clientIds[i % clientIds.length],
  }));
  try {
    // The schema and the group through the registry's public API; then the bulk rows.
    await registry.createGroup(GROUP, [SCOPE]);
    await place.bulk({ clientIds, hash, now: Math.floor(Date.now() / 1000), revocations });
    for (const alg of options.algorithms ?? ['RS256']) await registry.ensureSigningKey(alg);
  } finally {
    // The run keeps the orchestrator alive meanwhile (run.ts): PostgreSQL's close() does not.
    await registry.close();
  }
  return { backend, db: place.db, clientIds, secret, seedSeconds: (Date.now() - started) / 1000, database: place.database, companion: place.companion };
}
