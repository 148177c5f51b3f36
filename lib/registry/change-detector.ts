import { closeSync, openSync, readSync } from 'node:fs';

/**
 * Knows, without a SQL statement, whether any process committed to the database since it last
 * looked. In WAL mode every commit rewrites the WAL-index header at the start of the "-shm" file
 * (https://www.sqlite.org/walformat.html §2.1: two copies of a 48-byte header whose iChange counter
 * grows with each transaction); readers never touch it. Reading those 96 bytes is one pread, about
 * a tenth of the cheapest SQLite call from JavaScript. Any difference, including a torn read during
 * a write, counts as a change; without a readable "-shm" file there is no detector (callers query).
 */
export class WalChangeDetector {
  private readonly current = Buffer.alloc(96);
  private readonly seen = Buffer.alloc(96);
  private generation = 0;
  private closed = false;

  private constructor(private readonly fd: number) {}

  /** A detector for the open database at `path`, or null when its WAL index cannot be read. */
  static open(path: string): WalChangeDetector | null {
    try {
      return new WalChangeDetector(openSync(`${path}-shm`, 'r'));
    } catch {
      return null;
    }
  }

  /** A number that moves whenever the database may have changed since the previous call. */
  version(): number {
    // A closed descriptor's number may already belong to another file: never read through it.
    if (this.closed) throw new Error('The registry is closed.');
    const read = readSync(this.fd, this.current, 0, 96, 0);
    if (read < 96 || !this.current.equals(this.seen)) {
      this.current.copy(this.seen);
      this.generation++;
    }
    return this.generation;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
