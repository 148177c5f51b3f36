/** Temp directories and registries on real SQLite files in them. */
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry, type RegistryOptions } from '../../lib/registry/registry';
import { SqliteStorage, type SqliteOptions } from '../../lib/registry/sqlite';
import { TestClock } from './time';

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix = 'ccgate-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A fresh temp directory in memory (/dev/shm where there is one, else the OS temp dir), removed by the
 * returned cleanup: for tests that write thousands of rows, where SQLite's fsync per commit
 * (synchronous = FULL) on a shared disk would take most of the time.
 */
export function memoryTempDir(prefix = 'ccgate-'): { dir: string; cleanup: () => void } {
  if (!existsSync('/dev/shm')) return tempDir(prefix);
  const dir = mkdtempSync(join('/dev/shm', prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Options of the Registry service and of its SQLite storage. */
export type TempRegistryOptions = RegistryOptions & SqliteOptions;

export interface TempRegistry {
  registry: Registry;
  path: string;
  dir: string;
  /** The registry's clock (Unix seconds in clock.t), moved by hand. */
  clock: TestClock;
  /** Opens another registry on the same file (like the CLI next to a server). */
  reopen(options?: TempRegistryOptions): Registry;
  /** Closes every registry opened here and removes the directory. */
  cleanup(): Promise<void>;
}

/** A registry on a fresh temp file: SQLite storage, bcrypt cost 4, a TestClock, no prune timer. */
export function tempRegistry(options: TempRegistryOptions = {}): TempRegistry {
  const { dir, cleanup } = tempDir('ccgate-reg-');
  const path = join(dir, 'registry.db');
  const clock = new TestClock();
  const opened: Registry[] = [];
  const open = (extra: TempRegistryOptions = {}): Registry => {
    const { busyTimeoutMs, ...service } = { bcryptCost: 4, now: clock.now, pruneIntervalSeconds: 0, ...options, ...extra };
    const storage = new SqliteStorage(path, { busyTimeoutMs });
    try {
      const r = new Registry(storage, service);
      opened.push(r);
      return r;
    } catch (err) {
      void storage.close();
      throw err;
    }
  };
  const registry = open();
  return {
    registry,
    path,
    dir,
    clock,
    reopen: open,
    async cleanup() {
      for (const r of opened) await r.close();
      cleanup();
    },
  };
}

/** The fds of this process open on `path` (Linux: /proc/self/fd). */
export function openFdsOn(path: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(path)) count++;
    } catch {
      // the fd closed while we looked
    }
  }
  return count;
}
