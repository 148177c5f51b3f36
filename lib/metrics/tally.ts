import { Counter, type Registry } from 'prom-client';

/** One labelled child of a counter: a plain number, so counting costs one increment and allocates nothing. */
export class Tally {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}

  inc(): void {
    this.value++;
  }
}

/**
 * A prom-client counter whose children are Tallies, copied into it when the registry is scraped
 * (prom-client's own inc() hashes the label set on every call, too much for the guard's hot path).
 * Children made up front are exposed with 0 before their first count, as Prometheus advises.
 */
export class TalliedCounter<L extends string> {
  private readonly tallies: Tally[] = [];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
    const tallies = this.tallies;
    registry.registerMetric(
      new Counter({
        name,
        help,
        labelNames,
        registers: [],
        collect() {
          this.reset();
          for (const tally of tallies) this.inc(tally.labels as Partial<Record<L, string>>, tally.value);
        },
      }),
    );
  }

  child(labels: Readonly<Record<L, string>>): Tally {
    const tally = new Tally(labels);
    this.tallies.push(tally);
    return tally;
  }

  /** A child per value of one label (the counter's only one), in a map for lookups by value. */
  children(label: L, values: readonly string[]): Map<string, Tally> {
    return new Map(values.map((value) => [value, this.child({ [label]: value } as Record<L, string>)]));
  }
}
