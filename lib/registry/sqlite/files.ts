import { closeSync, openSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { RegistryFileChangedError } from '../../errors';

/**
 * The registry's files on disk: who may read them, and whether they are still the files this
 * process opened. SQLite names its companions "<db>-wal" and "<db>-shm" and creates them with the
 * database file's own permission bits (os_unix.c, findCreateFileMode / unixOpenSharedMemory).
 */

/** ':memory:' and '' (a private temporary database) have no file. */
const hasFile = (path: string): boolean => path !== '' && path !== ':memory:';

const companions = (path: string): string[] => [path, `${path}-wal`, `${path}-shm`];

/** Warned once per path and process. */
const warnedPaths = new Set<string>();

/** Permission bits of `path`, or null when it does not exist (or cannot be looked at). */
function modeOf(path: string): number | null {
  try {
    return statSync(path).mode & 0o777;
  } catch {
    return null;
  }
}

/**
 * Creates the database file readable by its owner only (0600), before SQLite opens it, so that it
 * and the -wal / -shm SQLite makes next to it never exist with wider permissions.
 */
export function createPrivately(path: string): void {
  if (!hasFile(path)) return;
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch {
    // It exists (see warnIfExposed), or its folder does not: better-sqlite3 reports that in its own words.
  }
}

/**
 * Warns (once per path and process) about the registry file, -wal or -shm when group or others may
 * access it. Nothing is chmod-ed behind the operator's back: the warning says what to run.
 */
export function warnIfExposed(path: string): void {
  if (!hasFile(path)) return;
  for (const file of companions(path)) {
    const mode = modeOf(file);
    if (mode === null || (mode & 0o077) === 0 || warnedPaths.has(file)) continue;
    warnedPaths.add(file);
    process.emitWarning(
      `ccgate: the registry file ${file} is accessible to other users (mode ${mode.toString(8).padStart(4, '0')}); it holds client ` +
        `secret hashes and signing keys. Restrict it: chmod 600 ${file}`,
      { code: 'CCGATE_REGISTRY_FILE_MODE' },
    );
  }
}

interface Identity {
  dev: bigint;
  ino: bigint;
}

function identityOf(path: string): Identity | null {
  try {
    const stat = statSync(path, { bigint: true });
    return { dev: stat.dev, ino: stat.ino };
  } catch {
    return null;
  }
}

/**
 * Whether the database file and its -shm are still the ones opened. A `mv backup.db registry.db`
 * puts another inode at the path while this process keeps writing to the old, unlinked one; a
 * removed -shm makes the next process build a WAL index of its own, and this one stops seeing its
 * commits. Either way acknowledged writes would be lost and reads go stale, so once a difference is
 * found it sticks: every later read and write fails with RegistryFileChangedError, and one warning
 * tells the operator to restart. The connection is not closed: SQLite's close may checkpoint into,
 * and delete by name, files that now belong to someone else.
 */
export class RegistryFiles {
  private problem: RegistryFileChangedError | null = null;
  private checkedAt = 0;

  private constructor(
    private readonly path: string,
    private readonly db: Identity,
    /** null: no WAL index to watch (not WAL mode). */
    private readonly shm: Identity | null,
  ) {}

  /** The files as they are now, just after opening; null for a database without a file. */
  static capture(path: string): RegistryFiles | null {
    if (!hasFile(path)) return null;
    // Absolute: a later process.chdir() must not read as a replaced file.
    const absolute = resolve(path);
    const db = identityOf(absolute);
    return db && new RegistryFiles(absolute, db, identityOf(`${absolute}-shm`));
  }

  /** No syscall: false once a change was found. */
  get intact(): boolean {
    return this.problem === null;
  }

  /**
   * Throws RegistryFileChangedError if the files changed. `maxAgeMs`: a check that passed this
   * recently is trusted (reads on the hot path); writes pass 0 and always look.
   */
  assertIntact(maxAgeMs = 0): void {
    if (this.problem === null && maxAgeMs > 0 && Date.now() - this.checkedAt < maxAgeMs) return;
    this.problem ??= this.find();
    if (this.problem) throw this.problem;
    this.checkedAt = Date.now();
  }

  private find(): RegistryFileChangedError | null {
    const changed = [this.compare(this.path, this.db), this.shm && this.compare(`${this.path}-shm`, this.shm)].find((p) => p);
    if (!changed) return null;
    const problem = new RegistryFileChangedError(
      `${changed}: this process still has the old one open, so its writes would be lost and its reads are stale. ` +
        'It refuses both from now on; restart it (see README "Backup and restore").',
      this.path,
    );
    process.emitWarning(`ccgate: ${problem.message}`, { code: 'CCGATE_REGISTRY_FILE_CHANGED' });
    return problem;
  }

  private compare(path: string, opened: Identity): string | null {
    const now = identityOf(path);
    if (now === null) return `the registry file ${path} was deleted while open`;
    if (now.dev !== opened.dev || now.ino !== opened.ino) return `the registry file ${path} was replaced while open (another file is at that path now)`;
    return null;
  }
}
