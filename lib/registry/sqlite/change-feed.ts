import { closeSync, openSync, readSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { ChangeFeed } from '../storage';
import { filesOf } from './database';
import type { RegistryFiles } from './files';

/** Says whether any process committed since it was last asked. */
export interface CommitProbe {
  changed(): boolean;
  close(): void;
}

/**
 * In WAL mode every commit rewrites the WAL-index header at the start of the "-shm" file
 * (https://www.sqlite.org/walformat.html §2.1: two copies of a 48-byte header whose iChange counter
 * grows with each transaction); readers never touch it. Reading those 96 bytes is one pread, about a
 * tenth of the cheapest SQLite call from JavaScript. Any difference, a torn read during a commit
 * included, counts as a change.
 */
export class WalIndexProbe implements CommitProbe {
  private static readonly HEADER_BYTES = 96;
  private readonly header = Buffer.alloc(WalIndexProbe.HEADER_BYTES);
  private readonly seen = Buffer.alloc(WalIndexProbe.HEADER_BYTES);
  /** null once closed: the number may already belong to another file, so it is never read again. */
  private fd: number | null;

  private constructor(fd: number) {
    this.fd = fd;
    this.changed();
  }

  /** A probe of the WAL index next to `path`, or null when it cannot be read. */
  static open(path: string): WalIndexProbe | null {
    let fd: number;
    try {
      fd = openSync(`${path}-shm`, 'r');
    } catch {
      return null;
    }
    try {
      return new WalIndexProbe(fd);
    } catch {
      closeSync(fd);
      return null;
    }
  }

  changed(): boolean {
    if (this.fd === null) return false;
    const read = readSync(this.fd, this.header, 0, WalIndexProbe.HEADER_BYTES, 0);
    if (read === WalIndexProbe.HEADER_BYTES && this.header.equals(this.seen)) return false;
    this.header.copy(this.seen);
    return true;
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }
}

/** Without a readable WAL index (':memory:', no WAL): PRAGMA data_version moves when another connection commits. */
export class DataVersionProbe implements CommitProbe {
  private readonly query;
  private last: unknown;
  private closed = false;

  constructor(db: Database.Database) {
    this.query = db.prepare('PRAGMA data_version').pluck();
    this.last = this.query.get();
  }

  changed(): boolean {
    if (this.closed) return false;
    const version = this.query.get();
    if (version === this.last) return false;
    this.last = version;
    return true;
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * The SQLite change feed: a commit by any process (another instance, the CLI) is found when the
 * service asks current(), and announced to every watcher before current() answers.
 */
export class SqliteChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<() => void>();
  private probe: CommitProbe | null;

  constructor(
    probe: CommitProbe,
    /** The database's files: once they were replaced, the probe reads an orphan, so nothing is current. */
    private readonly files?: RegistryFiles,
  ) {
    this.probe = probe;
  }

  /** The WAL-index probe when the file is in WAL mode and its "-shm" is readable, else data_version. */
  static open(db: Database.Database, path: string): SqliteChangeFeed {
    const wal = db.pragma('journal_mode', { simple: true }) === 'wal' ? WalIndexProbe.open(path) : null;
    return new SqliteChangeFeed(wal ?? new DataVersionProbe(db), filesOf(db));
  }

  watch(listener: () => void): () => void {
    // A wrapper of our own: the same function watched twice is two subscriptions, each ended once.
    const subscription = (): void => listener();
    this.listeners.add(subscription);
    return () => {
      this.listeners.delete(subscription);
    };
  }

  current(): boolean {
    if (this.probe === null || !this.filesIntact()) return false;
    let changed: boolean;
    try {
      changed = this.probe.changed();
    } catch {
      // Cannot look right now: not current, so the service reads through (where a real fault shows).
      return false;
    }
    if (changed) for (const listener of [...this.listeners]) listener();
    return true;
  }

  /** At most one stat pair a second (see database.ts): cached answers stop within a second of a replacement. */
  private filesIntact(): boolean {
    try {
      this.files?.assertIntact(1000);
      return true;
    } catch {
      return false;
    }
  }

  /** After this, current() is false and touches nothing. */
  close(): void {
    this.probe?.close();
    this.probe = null;
  }
}
