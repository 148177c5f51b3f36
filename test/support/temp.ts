/** Temp directories and registries on real SQLite files in them. */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteRegistry, type SqliteRegistryOptions } from '../../lib';
import { TestClock } from './time';

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix = 'ccgate-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TempRegistry {
  registry: SqliteRegistry;
  path: string;
  dir: string;
  /** The registry's clock (Unix seconds in clock.t), moved by hand. */
  clock: TestClock;
  /** Opens another connection to the same file (like the CLI next to a server). */
  reopen(options?: SqliteRegistryOptions): SqliteRegistry;
  /** Closes every connection opened here and removes the directory. */
  cleanup(): Promise<void>;
}

/** A registry on a fresh temp file, bcrypt cost 4, with a TestClock. */
export function tempRegistry(options: SqliteRegistryOptions = {}): TempRegistry {
  const { dir, cleanup } = tempDir('ccgate-reg-');
  const path = join(dir, 'registry.db');
  const clock = new TestClock();
  const opened: SqliteRegistry[] = [];
  const open = (extra: SqliteRegistryOptions = {}): SqliteRegistry => {
    const r = new SqliteRegistry(path, { bcryptCost: 4, now: clock.now, ...options, ...extra });
    opened.push(r);
    return r;
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
