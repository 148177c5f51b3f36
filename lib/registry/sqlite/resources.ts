import type Database from 'better-sqlite3';
import type { ResourceStorage } from '../storage';
import type { ResourceRecord } from '../types';
import { inTransaction, read } from './database';
import { jsonList } from './rows';

interface ResourceRow {
  uri: string;
  created_at: number;
  updated_at: number;
  /** JSON array, sorted. */
  scopes: string;
}

const SELECT_RESOURCES = `
  SELECT r.uri, r.created_at, r.updated_at,
         (SELECT json_group_array(scope ORDER BY scope) FROM resource_scopes WHERE uri = r.uri) AS scopes
  FROM resources r`;

/** Resources (RFC 8707) and the scopes each understands. */
export class SqliteResources implements ResourceStorage {
  private readonly byUri;
  private readonly all;
  private readonly insertResource;
  private readonly insertScope;
  private readonly deleteScope;
  private readonly touch;
  private readonly deleteResource;

  constructor(private readonly db: Database.Database) {
    this.byUri = db.prepare<[string], ResourceRow>(`${SELECT_RESOURCES} WHERE r.uri = ?`);
    this.all = db.prepare<[], ResourceRow>(`${SELECT_RESOURCES} ORDER BY r.uri`);
    this.insertResource = db.prepare<[{ uri: string; at: number }]>(
      'INSERT INTO resources (uri, created_at, updated_at) VALUES (@uri, @at, @at) ON CONFLICT (uri) DO NOTHING',
    );
    this.insertScope = db.prepare<[string, string]>('INSERT OR IGNORE INTO resource_scopes (uri, scope) VALUES (?, ?)');
    this.deleteScope = db.prepare<[string, string]>('DELETE FROM resource_scopes WHERE uri = ? AND scope = ?');
    this.touch = db.prepare<[number, string]>('UPDATE resources SET updated_at = ? WHERE uri = ?');
    this.deleteResource = db.prepare<[string]>('DELETE FROM resources WHERE uri = ?');
  }

  get(uri: string): Promise<ResourceRecord | null> {
    return read(this.db, () => this.record(uri));
  }

  list(): Promise<ResourceRecord[]> {
    return read(this.db, () => this.all.all().map(toRecord));
  }

  insert(uri: string, scopes: string[], createdAt: number): Promise<ResourceRecord | 'exists'> {
    return inTransaction(this.db, () => {
      if (this.insertResource.run({ uri, at: createdAt }).changes === 0) return 'exists';
      for (const scope of scopes) this.insertScope.run(uri, scope);
      return this.written(uri);
    });
  }

  addScopes(uri: string, scopes: string[], now: number): Promise<ResourceRecord | null> {
    return inTransaction(this.db, () => {
      if (this.touch.run(now, uri).changes === 0) return null;
      for (const scope of scopes) this.insertScope.run(uri, scope);
      return this.written(uri);
    });
  }

  removeScopes(uri: string, scopes: string[], now: number): Promise<ResourceRecord | null | { missing: string[] }> {
    return inTransaction(this.db, () => {
      const resource = this.record(uri);
      if (!resource) return null;
      const missing = scopes.filter((s) => !resource.scopes.includes(s));
      if (missing.length > 0) return { missing };
      for (const scope of scopes) this.deleteScope.run(uri, scope);
      this.touch.run(now, uri);
      return this.written(uri);
    });
  }

  delete(uri: string): Promise<boolean> {
    // Its scopes go with it (ON DELETE CASCADE).
    return inTransaction(this.db, () => this.deleteResource.run(uri).changes > 0);
  }

  private record(uri: string): ResourceRecord | null {
    const row = this.byUri.get(uri);
    return row ? toRecord(row) : null;
  }

  private written(uri: string): ResourceRecord {
    const record = this.record(uri);
    if (!record) throw new Error(`resource "${uri}" vanished inside its own transaction`);
    return record;
  }
}

function toRecord(row: ResourceRow): ResourceRecord {
  return { uri: row.uri, scopes: jsonList(row.scopes), createdAt: row.created_at, updatedAt: row.updated_at };
}
