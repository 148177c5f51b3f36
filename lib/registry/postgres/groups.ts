import type { GroupStorage } from '../storage';
import type { GroupRecord } from '../types';
import type { Tables } from './names';
import type { Database, Executor } from './pool';

interface GroupRow {
  name: string;
  created_at: number;
  scopes: string[];
  client_count: number;
}

/** Row locks on a group: NO KEY UPDATE serializes edits of its scopes; UPDATE also waits out (and blocks) new memberships. */
type GroupLock = 'NO KEY UPDATE' | 'UPDATE';

/** Groups and their scopes. */
export class PostgresGroups implements GroupStorage {
  private readonly select: string;

  constructor(
    private readonly db: Database,
    private readonly t: Tables,
  ) {
    this.select = `
      SELECT g.name, g.created_at,
             ARRAY(SELECT s.scope FROM ${t.group_scopes} s WHERE s.group_id = g.id ORDER BY s.scope) AS scopes,
             (SELECT count(*) FROM ${t.client_groups} m WHERE m.group_id = g.id) AS client_count
      FROM ${t.groups} g`;
  }

  get(name: string): Promise<GroupRecord | null> {
    return this.read(this.db, name);
  }

  async list(): Promise<GroupRecord[]> {
    return (await this.db.rows<GroupRow>(`${this.select} ORDER BY g.name`)).map(toRecord);
  }

  async listScopes(): Promise<string[]> {
    return (await this.db.rows<{ scope: string }>(`SELECT DISTINCT scope FROM ${this.t.group_scopes} ORDER BY scope`)).map((row) => row.scope);
  }

  insert(name: string, scopes: string[], createdAt: number): Promise<GroupRecord | 'exists'> {
    return this.db.transaction(async (tx) => {
      // ON CONFLICT: a taken name (also one taken by a concurrent insert) is an answer, not an error.
      const inserted = await tx.rows<{ id: number }>(
        `INSERT INTO ${this.t.groups} (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id`,
        [name, createdAt],
      );
      if (inserted.length === 0) return 'exists';
      await this.insertScopes(tx, inserted[0].id, scopes);
      return this.require(tx, name);
    });
  }

  addScopes(name: string, scopes: string[]): Promise<GroupRecord | null> {
    return this.db.transaction(async (tx) => {
      const id = await this.lock(tx, name, 'NO KEY UPDATE');
      if (id === null) return null;
      await this.insertScopes(tx, id, scopes);
      return this.require(tx, name);
    });
  }

  removeScopes(name: string, scopes: string[]): Promise<GroupRecord | null | { missing: string[] }> {
    return this.db.transaction(async (tx) => {
      const id = await this.lock(tx, name, 'NO KEY UPDATE');
      if (id === null) return null;
      const held = await tx.rows<{ scope: string }>(`SELECT scope FROM ${this.t.group_scopes} WHERE group_id = $1 AND scope = ANY($2::text[])`, [id, scopes]);
      const heldSet = new Set(held.map((row) => row.scope));
      const missing = scopes.filter((scope) => !heldSet.has(scope));
      if (missing.length > 0) return { missing };
      await tx.run(`DELETE FROM ${this.t.group_scopes} WHERE group_id = $1 AND scope = ANY($2::text[])`, [id, scopes]);
      return this.require(tx, name);
    });
  }

  delete(name: string, force: boolean): Promise<'deleted' | 'not_found' | { inUse: number }> {
    return this.db.transaction(async (tx) => {
      // FOR UPDATE: a membership being added concurrently is counted here, or fails to find the group.
      const id = await this.lock(tx, name, 'UPDATE');
      if (id === null) return 'not_found';
      const [{ members }] = await tx.rows<{ members: number }>(`SELECT count(*) AS members FROM ${this.t.client_groups} WHERE group_id = $1`, [id]);
      if (members > 0 && !force) return { inUse: members };
      // Memberships and scopes go with it (ON DELETE CASCADE).
      await tx.run(`DELETE FROM ${this.t.groups} WHERE id = $1`, [id]);
      return 'deleted';
    });
  }

  private async read(ex: Executor, name: string): Promise<GroupRecord | null> {
    const [row] = await ex.rows<GroupRow>(`${this.select} WHERE g.name = $1`, [name]);
    return row ? toRecord(row) : null;
  }

  /** Read back inside the writing transaction, where the group certainly exists. */
  private async require(tx: Executor, name: string): Promise<GroupRecord> {
    const group = await this.read(tx, name);
    if (!group) throw new Error(`group "${name}" vanished inside its own transaction`);
    return group;
  }

  private async lock(tx: Executor, name: string, mode: GroupLock): Promise<number | null> {
    const [row] = await tx.rows<{ id: number }>(`SELECT id FROM ${this.t.groups} WHERE name = $1 FOR ${mode}`, [name]);
    return row ? row.id : null;
  }

  private async insertScopes(tx: Executor, id: number, scopes: string[]): Promise<void> {
    if (scopes.length === 0) return;
    await tx.run(`INSERT INTO ${this.t.group_scopes} (group_id, scope) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, [id, scopes]);
  }
}

function toRecord(row: GroupRow): GroupRecord {
  return { name: row.name, scopes: row.scopes, clientCount: row.client_count, createdAt: row.created_at };
}
