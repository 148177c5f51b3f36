import type { ResourceStorage } from '../storage';
import type { ResourceRecord } from '../types';
import type { Tables } from './names';
import type { Database, Executor } from './pool';

interface ResourceRow {
  uri: string;
  created_at: number;
  updated_at: number;
  scopes: string[];
}

/** Resources (RFC 8707) and the scopes each understands. */
export class PostgresResources implements ResourceStorage {
  private readonly select: string;

  constructor(
    private readonly db: Database,
    private readonly t: Tables,
  ) {
    this.select = `
      SELECT r.uri, r.created_at, r.updated_at,
             ARRAY(SELECT s.scope FROM ${t.resource_scopes} s WHERE s.uri = r.uri ORDER BY s.scope) AS scopes
      FROM ${t.resources} r`;
  }

  get(uri: string): Promise<ResourceRecord | null> {
    return this.read(this.db, uri);
  }

  async list(): Promise<ResourceRecord[]> {
    return (await this.db.rows<ResourceRow>(`${this.select} ORDER BY r.uri`)).map(toRecord);
  }

  insert(uri: string, scopes: string[], createdAt: number): Promise<ResourceRecord | 'exists'> {
    return this.db.transaction(async (tx) => {
      // ON CONFLICT: a taken URI (also one taken by a concurrent insert) is an answer, not an error.
      const inserted = await tx.run(`INSERT INTO ${this.t.resources} (uri, created_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT (uri) DO NOTHING`, [
        uri,
        createdAt,
      ]);
      if (inserted === 0) return 'exists';
      await this.insertScopes(tx, uri, scopes);
      return this.require(tx, uri);
    });
  }

  addScopes(uri: string, scopes: string[], now: number): Promise<ResourceRecord | null> {
    return this.db.transaction(async (tx) => {
      // The UPDATE locks the row: concurrent edits of one resource queue up.
      if ((await this.touch(tx, uri, now)) === 0) return null;
      await this.insertScopes(tx, uri, scopes);
      return this.require(tx, uri);
    });
  }

  removeScopes(uri: string, scopes: string[], now: number): Promise<ResourceRecord | null | { missing: string[] }> {
    return this.db.transaction(async (tx) => {
      const locked = await tx.rows(`SELECT 1 FROM ${this.t.resources} WHERE uri = $1 FOR NO KEY UPDATE`, [uri]);
      if (locked.length === 0) return null;
      const held = await tx.rows<{ scope: string }>(`SELECT scope FROM ${this.t.resource_scopes} WHERE uri = $1 AND scope = ANY($2::text[])`, [uri, scopes]);
      const heldSet = new Set(held.map((row) => row.scope));
      const missing = scopes.filter((scope) => !heldSet.has(scope));
      if (missing.length > 0) return { missing };
      await tx.run(`DELETE FROM ${this.t.resource_scopes} WHERE uri = $1 AND scope = ANY($2::text[])`, [uri, scopes]);
      await this.touch(tx, uri, now);
      return this.require(tx, uri);
    });
  }

  async delete(uri: string): Promise<boolean> {
    // Its scopes go with it (ON DELETE CASCADE); one statement is one transaction.
    return (await this.db.run(`DELETE FROM ${this.t.resources} WHERE uri = $1`, [uri])) > 0;
  }

  private async read(ex: Executor, uri: string): Promise<ResourceRecord | null> {
    const [row] = await ex.rows<ResourceRow>(`${this.select} WHERE r.uri = $1`, [uri]);
    return row ? toRecord(row) : null;
  }

  private async require(tx: Executor, uri: string): Promise<ResourceRecord> {
    const resource = await this.read(tx, uri);
    if (!resource) throw new Error(`resource "${uri}" vanished inside its own transaction`);
    return resource;
  }

  private touch(tx: Executor, uri: string, now: number): Promise<number> {
    return tx.run(`UPDATE ${this.t.resources} SET updated_at = $2 WHERE uri = $1`, [uri, now]);
  }

  private async insertScopes(tx: Executor, uri: string, scopes: string[]): Promise<void> {
    if (scopes.length === 0) return;
    await tx.run(`INSERT INTO ${this.t.resource_scopes} (uri, scope) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, [uri, scopes]);
  }
}

function toRecord(row: ResourceRow): ResourceRecord {
  return { uri: row.uri, scopes: row.scopes, createdAt: row.created_at, updatedAt: row.updated_at };
}
