import type { DpopReplayStore } from './dpop';

/** Proof ids remembered at most (the oldest go first): bounds the memory a flood of proofs can take. */
const MAX_ENTRIES = 100_000;

/**
 * A replay cache in this process's memory, for a guard without a registry (remoteGuard): a proof is
 * refused a second time at this instance. Several instances of an API each keep their own: give them a
 * shared DpopReplayStore (dpop.replay) when a proof replayed to a sibling instance must fail too.
 */
export class MemoryReplayStore implements DpopReplayStore {
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number = () => Date.now() / 1000) {}

  useOnce(id: string, expiresAt: number): Promise<boolean> {
    const now = this.now();
    const until = this.seen.get(id);
    if (until !== undefined && until > now) return Promise.resolve(false);
    this.seen.delete(id);
    if (this.seen.size >= MAX_ENTRIES) this.evict(now);
    this.seen.set(id, expiresAt);
    return Promise.resolve(true);
  }

  /** Drops expired entries, then, if still full, the oldest (Map order is insertion order). */
  private evict(now: number): void {
    for (const [id, until] of this.seen) if (until <= now) this.seen.delete(id);
    while (this.seen.size >= MAX_ENTRIES) {
      const oldest = this.seen.keys().next();
      if (oldest.done) break;
      this.seen.delete(oldest.value);
    }
  }
}
