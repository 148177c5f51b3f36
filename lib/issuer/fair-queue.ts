/** What admitting a job did: refused it, or took it (possibly pushing out another source's newest). */
export type Admission<J> = { admitted: false } | { admitted: true; evicted: J | null };

/**
 * Jobs queued per source (an address) and taken in turn, one source after another, so a flood from
 * some sources cannot starve the others. Bounded in total and per source; when full, a source with
 * nothing waiting still gets in: the newest job of the longest queue makes room (max-min fairness).
 */
export class FairQueue<J> {
  /** Map order is the round-robin order: a source moves to the back after each job taken. */
  private readonly bySource = new Map<string, J[]>();
  private count = 0;

  constructor(
    readonly capacity: number,
    private readonly perSource: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Queues `job` for `source`; `bounded: false` skips the bounds (a job an idle worker takes at once). */
  admit(source: string, job: J, bounded = true): Admission<J> {
    const own = this.bySource.get(source) ?? [];
    let evicted: J | null = null;
    if (bounded) {
      if (own.length >= this.perSource) return { admitted: false };
      if (this.count >= this.capacity) {
        if (own.length > 0) return { admitted: false };
        evicted = this.evictFromLongest();
        if (evicted === null) return { admitted: false };
      }
    }
    own.push(job);
    this.bySource.set(source, own);
    this.count++;
    return { admitted: true, evicted };
  }

  /** The next job: the first source's oldest; that source then goes to the back. */
  next(): J | undefined {
    for (const [source, jobs] of this.bySource) {
      const job = jobs.shift();
      this.bySource.delete(source);
      if (job === undefined) continue;
      this.count--;
      if (jobs.length > 0) this.bySource.set(source, jobs);
      return job;
    }
    return undefined;
  }

  /** Every job still queued, emptying the queue. */
  drain(): J[] {
    const all = [...this.bySource.values()].flat();
    this.bySource.clear();
    this.count = 0;
    return all;
  }

  private evictFromLongest(): J | null {
    let longest: J[] | undefined;
    for (const jobs of this.bySource.values()) if (!longest || jobs.length > longest.length) longest = jobs;
    const job = longest?.pop();
    if (job === undefined) return null;
    this.count--;
    return job;
  }
}
