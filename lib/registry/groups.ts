import type Database from 'better-sqlite3';
import { isScopeToken } from '../scope';
import { conflict, invalid, notFound } from '../errors';
import { columnList } from './columns';
import type { GroupRecord } from './types';

const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

interface GroupRow {
  id: number;
  name: string;
  created_at: number;
  scopes: string | null;
  client_count: number;
}

const SELECT_GROUPS = `
  SELECT g.id, g.name, g.created_at,
         (SELECT group_concat(scope, ' ') FROM (SELECT scope FROM group_scopes WHERE group_id = g.id ORDER BY scope)) AS scopes,
         (SELECT count(*) FROM client_groups WHERE group_id = g.id) AS client_count
  FROM groups g`;

export function assertGroupName(name: string): void {
  if (!GROUP_NAME.test(name)) {
    throw invalid(`invalid group name "${name}": use 1-64 letters, digits, '.', '_', ':' or '-'`);
  }
}

export function assertScopes(scopes: string[]): void {
  for (const scope of scopes) {
    if (!isScopeToken(scope)) throw invalid(`invalid scope "${scope}" (RFC 6749 §3.3 scope-token)`);
  }
}

/** Group rows and their scopes. Methods are synchronous; callers wrap them in transactions. */
export class Groups {
  private readonly byName;
  private readonly all;
  private readonly insert;
  private readonly insertScope;
  private readonly deleteScope;
  private readonly remove;
  private readonly scopes;

  constructor(db: Database.Database) {
    this.byName = db.prepare<[string], GroupRow>(`${SELECT_GROUPS} WHERE g.name = ?`);
    this.all = db.prepare<[], GroupRow>(`${SELECT_GROUPS} ORDER BY g.name`);
    this.insert = db.prepare<[string, number]>('INSERT INTO groups (name, created_at) VALUES (?, ?)');
    this.insertScope = db.prepare<[number, string]>('INSERT OR IGNORE INTO group_scopes (group_id, scope) VALUES (?, ?)');
    this.deleteScope = db.prepare<[number, string]>('DELETE FROM group_scopes WHERE group_id = ? AND scope = ?');
    this.remove = db.prepare<[number]>('DELETE FROM groups WHERE id = ?');
    this.scopes = db.prepare<[], { scope: string }>('SELECT DISTINCT scope FROM group_scopes ORDER BY scope');
  }

  get(name: string): GroupRecord | null {
    const row = this.byName.get(name);
    return row ? toRecord(row) : null;
  }

  list(): GroupRecord[] {
    return this.all.all().map(toRecord);
  }

  create(name: string, scopes: string[], now: number): GroupRecord {
    assertGroupName(name);
    assertScopes(scopes);
    if (this.byName.get(name)) throw conflict(`group "${name}" already exists`);
    const id = Number(this.insert.run(name, now).lastInsertRowid);
    for (const scope of scopes) this.insertScope.run(id, scope);
    return this.require(name);
  }

  addScopes(name: string, scopes: string[]): GroupRecord {
    assertScopes(scopes);
    const id = this.requireRow(name).id;
    for (const scope of scopes) this.insertScope.run(id, scope);
    return this.require(name);
  }

  removeScopes(name: string, scopes: string[]): GroupRecord {
    const group = this.requireRow(name);
    const held = new Set(columnList(group.scopes));
    const missing = scopes.filter((s) => !held.has(s));
    if (missing.length > 0) throw notFound(`scope ${missing.map((s) => `"${s}"`).join(', ')} in group "${name}"`);
    for (const scope of scopes) this.deleteScope.run(group.id, scope);
    return this.require(name);
  }

  delete(name: string, force: boolean): void {
    const group = this.requireRow(name);
    if (group.client_count > 0 && !force) {
      throw conflict(`group "${name}" still has ${group.client_count} client(s); remove them first or force`);
    }
    this.remove.run(group.id);
  }

  allScopes(): string[] {
    return this.scopes.all().map((r) => r.scope);
  }

  /** Group ids for names, refusing unknown ones. */
  idsOf(names: string[]): number[] {
    return names.map((name) => this.requireRow(name).id);
  }

  private require(name: string): GroupRecord {
    return toRecord(this.requireRow(name));
  }

  private requireRow(name: string): GroupRow {
    const row = this.byName.get(name);
    if (!row) throw notFound(`group "${name}"`);
    return row;
  }
}

function toRecord(row: GroupRow): GroupRecord {
  return {
    name: row.name,
    scopes: columnList(row.scopes),
    clientCount: row.client_count,
    createdAt: row.created_at,
  };
}
