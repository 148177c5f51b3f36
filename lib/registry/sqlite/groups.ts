import type Database from 'better-sqlite3';
import type { GroupStorage } from '../storage';
import type { GroupRecord } from '../types';
import { inTransaction, read } from './database';
import { jsonList } from './rows';

interface GroupRow {
  id: number;
  name: string;
  created_at: number;
  /** JSON array, sorted. */
  scopes: string;
  client_count: number;
}

const SELECT_GROUPS = `
  SELECT g.id, g.name, g.created_at,
         (SELECT json_group_array(scope ORDER BY scope) FROM group_scopes WHERE group_id = g.id) AS scopes,
         (SELECT count(*) FROM client_groups WHERE group_id = g.id) AS client_count
  FROM groups g`;

/** Group rows and their scopes. */
export class SqliteGroups implements GroupStorage {
  private readonly byName;
  private readonly all;
  private readonly insertGroup;
  private readonly insertScope;
  private readonly deleteScope;
  private readonly deleteGroup;
  private readonly scopes;

  constructor(private readonly db: Database.Database) {
    this.byName = db.prepare<[string], GroupRow>(`${SELECT_GROUPS} WHERE g.name = ?`);
    this.all = db.prepare<[], GroupRow>(`${SELECT_GROUPS} ORDER BY g.name`);
    this.insertGroup = db.prepare<[string, number]>('INSERT INTO groups (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING');
    this.insertScope = db.prepare<[number, string]>('INSERT OR IGNORE INTO group_scopes (group_id, scope) VALUES (?, ?)');
    this.deleteScope = db.prepare<[number, string]>('DELETE FROM group_scopes WHERE group_id = ? AND scope = ?');
    this.deleteGroup = db.prepare<[number]>('DELETE FROM groups WHERE id = ?');
    this.scopes = db.prepare<[], string>('SELECT DISTINCT scope FROM group_scopes ORDER BY scope').pluck();
  }

  get(name: string): Promise<GroupRecord | null> {
    return read(this.db, () => this.record(name));
  }

  list(): Promise<GroupRecord[]> {
    return read(this.db, () => this.all.all().map(toRecord));
  }

  listScopes(): Promise<string[]> {
    return read(this.db, () => this.scopes.all());
  }

  insert(name: string, scopes: string[], createdAt: number): Promise<GroupRecord | 'exists'> {
    return inTransaction(this.db, () => {
      const inserted = this.insertGroup.run(name, createdAt);
      if (inserted.changes === 0) return 'exists';
      const id = Number(inserted.lastInsertRowid);
      for (const scope of scopes) this.insertScope.run(id, scope);
      return this.written(name);
    });
  }

  addScopes(name: string, scopes: string[]): Promise<GroupRecord | null> {
    return inTransaction(this.db, () => {
      const group = this.byName.get(name);
      if (!group) return null;
      for (const scope of scopes) this.insertScope.run(group.id, scope);
      return this.written(name);
    });
  }

  removeScopes(name: string, scopes: string[]): Promise<GroupRecord | null | { missing: string[] }> {
    return inTransaction(this.db, () => {
      const group = this.byName.get(name);
      if (!group) return null;
      const held = new Set(jsonList(group.scopes));
      const missing = scopes.filter((s) => !held.has(s));
      if (missing.length > 0) return { missing };
      for (const scope of scopes) this.deleteScope.run(group.id, scope);
      return this.written(name);
    });
  }

  delete(name: string, force: boolean): Promise<'deleted' | 'not_found' | { inUse: number }> {
    return inTransaction(this.db, () => {
      const group = this.byName.get(name);
      if (!group) return 'not_found';
      if (group.client_count > 0 && !force) return { inUse: group.client_count };
      // Its scopes and memberships go with it (ON DELETE CASCADE).
      this.deleteGroup.run(group.id);
      return 'deleted';
    });
  }

  /** Group ids by name, in order; the first unknown name instead of any id. */
  idsOf(names: string[]): number[] | { unknownGroup: string } {
    const ids: number[] = [];
    for (const name of names) {
      const row = this.byName.get(name);
      if (!row) return { unknownGroup: name };
      ids.push(row.id);
    }
    return ids;
  }

  private record(name: string): GroupRecord | null {
    const row = this.byName.get(name);
    return row ? toRecord(row) : null;
  }

  /** The group just written, read back inside the same transaction. */
  private written(name: string): GroupRecord {
    const record = this.record(name);
    if (!record) throw new Error(`group "${name}" vanished inside its own transaction`);
    return record;
  }
}

function toRecord(row: GroupRow): GroupRecord {
  return { name: row.name, scopes: jsonList(row.scopes), clientCount: row.client_count, createdAt: row.created_at };
}
