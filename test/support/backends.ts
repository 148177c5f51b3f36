/**
 * Registry backends for the contract suite (test/registry/*.test.ts): every test there runs once per
 * backend listed by registryBackends(), through the Registry service only. What a test needs to see
 * from outside (rows, faults) goes through the backend's own connection, so the tests stay free of
 * SQL and of any one backend's internals.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Registry, type RegistryOptions } from '../../lib/registry/registry';
import { SqliteStorage } from '../../lib/registry/sqlite';
import type { RegistryStorage } from '../../lib/registry/storage';
import { postgresBackends } from './postgres';
import { tempDir } from './temp';
import { TestClock } from './time';

/** Only inserts whose `column` equals `equals` fail (all inserts when omitted). */
export interface InsertFilter {
  column: string;
  equals: string;
}

/**
 * One fresh, empty database of a backend. Table and column names are the registry's logical schema,
 * which every backend keeps: groups, group_scopes, clients, client_groups, client_secrets,
 * revoked_tokens, signing_keys, replay (snake_case columns such as client_id, secret_hash).
 */
export interface BackendInstance {
  /** A storage on the database, not opened yet (the Registry's ready() does that). */
  storage: RegistryStorage;
  /** Another storage on the same database: another instance, or the CLI. */
  openAnother(): RegistryStorage;
  /** Every table the backend keeps, by name. */
  tables(): Promise<string[]>;
  /** Every row of `table`, read through a connection of the test's own. */
  rawRows(table: string): Promise<Record<string, unknown>[]>;
  /** Makes inserts into `table` fail with an error whose message contains `message`, until the returned function is called. */
  failInserts(table: string, message: string, filter?: InsertFilter): Promise<() => Promise<void>>;
  /**
   * Resolves once every change committed so far through any storage of this database must have been
   * announced by every other storage's change feed (ChangeFeed.current(): within its staleness bound).
   * Omitted: at once, as on SQLite, whose feed looks on every call.
   */
  changesSeen?(): Promise<void>;
  /** Closes every storage opened here and removes the database. */
  cleanup(): Promise<void>;
}

export interface RegistryBackend {
  name: string;
  create(): Promise<BackendInstance>;
}

const quote = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** A SQLite file in a temp folder; rows and faults through better-sqlite3 connections of the test's own. */
export const sqliteBackend: RegistryBackend = {
  name: 'sqlite',
  create() {
    const { dir, cleanup } = tempDir('ccgate-contract-');
    const path = join(dir, 'registry.db');
    const opened: RegistryStorage[] = [];
    const open = (): RegistryStorage => {
      const storage = new SqliteStorage(path);
      opened.push(storage);
      return storage;
    };
    const withConnection = <T>(readonly: boolean, work: (db: Database.Database) => T): Promise<T> => {
      const db = new Database(path, { readonly });
      try {
        return Promise.resolve(work(db));
      } finally {
        db.close();
      }
    };
    let triggers = 0;
    return Promise.resolve({
      storage: open(),
      openAnother: open,
      tables: () => withConnection(true, (db) => db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()),
      rawRows: (table) => withConnection(true, (db) => db.prepare<[], Record<string, unknown>>(`SELECT * FROM "${table}"`).all()),
      failInserts: (table, message, filter) => {
        const trigger = `contract_fail_${++triggers}`;
        const when = filter ? `WHEN NEW."${filter.column}" = ${quote(filter.equals)}` : '';
        return withConnection(false, (db) => {
          db.exec(`CREATE TRIGGER ${trigger} BEFORE INSERT ON "${table}" ${when} BEGIN SELECT RAISE(ABORT, ${quote(message)}); END;`);
          return () => withConnection(false, (other) => void other.exec(`DROP TRIGGER ${trigger}`));
        });
      },
      async cleanup() {
        for (const storage of opened) await storage.close();
        cleanup();
      },
    });
  },
};

/** Every backend the contract suite runs against. */
export function registryBackends(): RegistryBackend[] {
  return [
    sqliteBackend,
    // ---- PostgreSQL: test/support/postgres.ts adds its backend here (e.g. `...postgresBackends()`). ----
    ...postgresBackends(),
  ];
}

/** Service options of every contract registry: cheap bcrypt, the test's clock, no prune timer. */
const serviceOptions = (clock: TestClock): RegistryOptions => ({ bcryptCost: 4, now: clock.now, pruneIntervalSeconds: 0 });

/**
 * The registry of one contract test: set up fresh before each test, torn down after. Read its fields
 * inside tests (they change from test to test).
 */
export class ContractRegistry {
  registry!: Registry;
  clock!: TestClock;
  backend!: BackendInstance;
  private registries: Registry[] = [];

  constructor(kind: RegistryBackend) {
    beforeEach(async () => {
      this.clock = new TestClock();
      this.backend = await kind.create();
      this.registries = [];
      this.registry = this.track(new Registry(this.backend.storage, serviceOptions(this.clock)));
      await this.registry.ready();
    });
    afterEach(async () => {
      for (const registry of this.registries) await registry.close();
      await this.backend.cleanup();
    });
  }

  /** Another registry instance on the same database, on the same clock unless told otherwise. */
  async another(options: RegistryOptions = {}): Promise<Registry> {
    const registry = this.track(new Registry(this.backend.openAnother(), { ...serviceOptions(this.clock), ...options }));
    await registry.ready();
    return registry;
  }

  /** Waits until a change made through another instance must be visible here (SQLite: at once). */
  async changesSeen(): Promise<void> {
    await this.backend.changesSeen?.();
  }

  rows(table: string): Promise<Record<string, unknown>[]> {
    return this.backend.rawRows(table);
  }

  /** Rows of `table`, only those whose columns equal `where`'s values if given. */
  async count(table: string, where: Record<string, unknown> = {}): Promise<number> {
    const rows = await this.rows(table);
    return rows.filter((row) => Object.entries(where).every(([column, value]) => row[column] === value)).length;
  }

  private track(registry: Registry): Registry {
    this.registries.push(registry);
    return registry;
  }
}
