/**
 * Registry seeding for the bench, done in the orchestrator before a server starts, on a fresh SQLite
 * file in a temp dir.
 *
 * Clients are inserted with direct SQL through better-sqlite3 in one transaction (createClient would
 * run one bcrypt hash per client, ~85 ms each at cost 10). Every seeded client gets a distinct random
 * client_id and the SAME cost-10 bcrypt hash of one shared secret, hashed once per bench run with
 * bcryptjs exactly as the registry does (bcrypt.hash(secret, 10)). A compare against that hash costs
 * what any cost-10 compare costs, and ccgate's secret cache is keyed by client_id, so the first request
 * of every client still runs a full bcrypt compare. Revocations are direct SQL inserts as well.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import Database from 'better-sqlite3';
import { openRegistry, type SigningAlgorithm } from '../../lib';
import { SCOPE } from './common';
import { tempDir } from './harness';

export const BCRYPT_COST = 10;

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
  clients: number;
  /** Revoked (not yet expired) token ids to insert. */
  revocations?: number;
  /** Signing keys created up front, so the server and the minter share them (default RS256). */
  algorithms?: SigningAlgorithm[];
}

export interface Seeded {
  dbPath: string;
  clientIds: string[];
  secret: string;
  seedSeconds: number;
}

export async function seedRegistry(options: SeedOptions): Promise<Seeded> {
  const started = Date.now();
  const { secret, hash } = await sharedSecret();
  const dbPath = path.join(tempDir(), 'registry.db');
  const registry = openRegistry(dbPath, { bcryptCost: BCRYPT_COST, pruneIntervalSeconds: 0 });
  const clientIds: string[] = [];
  // Bulk rows go in through a connection of our own, in one transaction: the registry API would hash
  // a secret per client, and the bench needs a hundred thousand sharing one known secret.
  let db: Database.Database | undefined;
  try {
    await registry.createGroup('bench-readers', [SCOPE]);
    db = new Database(dbPath);
    const groupId = (db.prepare('SELECT id FROM groups WHERE name = ?').get('bench-readers') as { id: number }).id;
    const now = Math.floor(Date.now() / 1000);
    const insertClient = db.prepare(
      `INSERT INTO clients (client_id, name, type, grant_types, token_ttl, enabled, created_at, updated_at)
       VALUES (?, ?, 'confidential', 'client_credentials', NULL, 1, ?, ?)`,
    );
    const insertMember = db.prepare('INSERT INTO client_groups (client_id, group_id) VALUES (?, ?)');
    const insertSecret = db.prepare('INSERT INTO client_secrets (client_id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, NULL)');
    const insertRevocation = db.prepare('INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < options.clients; i++) {
        const id = randomBytes(16).toString('base64url');
        insertClient.run(id, `bench client ${i}`, now, now);
        insertMember.run(id, groupId);
        insertSecret.run(id, hash, now);
        clientIds.push(id);
      }
      for (let i = 0; i < (options.revocations ?? 0); i++) {
        insertRevocation.run(randomBytes(16).toString('base64url'), clientIds[i % clientIds.length], now + 3600, now);
      }
    })();
    for (const alg of options.algorithms ?? ['RS256']) await registry.ensureSigningKey(alg);
  } finally {
    db?.close();
    await registry.close();
  }
  return { dbPath, clientIds, secret, seedSeconds: (Date.now() - started) / 1000 };
}
