/**
 * bcrypt work as a test counts it, without timing: BcryptPool runs bcrypt once per candidate and
 * distinct salt (its documented contract), so the calls to SecretHasher.match tell the cost.
 */
import { BcryptPool, saltOf, type SecretHasher, type SecretMatch } from '../../lib/issuer/bcrypt-pool';

export interface MatchCall {
  candidates: string[];
  hashes: string[];
  source: string | undefined;
}

/** bcrypt runs of a match() that finds nothing (a wrong secret, an unknown id): one per candidate and distinct salt. */
export const bcryptRuns = (call: MatchCall): number => call.candidates.length * new Set(call.hashes.map(saltOf)).size;

/** The cost factor of a bcrypt hash ("$2b$04$..." is 4). */
export const bcryptCostOf = (hash: string): number => Number(hash.split('$')[2]);

/** A SecretHasher that records every match() before passing it on. */
export class CountingHasher implements SecretHasher {
  readonly calls: MatchCall[] = [];
  constructor(private readonly inner: SecretHasher) {}
  match(candidates: string[], hashes: string[], source?: string): Promise<SecretMatch | null> {
    this.calls.push({ candidates, hashes, source });
    return this.inner.match(candidates, hashes, source);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Records the match() calls of every BcryptPool of this process, ccgate()'s own included (it builds
 * its pool itself), until restore().
 */
export function watchBcryptPools(): { calls: MatchCall[]; clear(): void; restore(): void } {
  const calls: MatchCall[] = [];
  const original = BcryptPool.prototype.match;
  const spy = jest.spyOn(BcryptPool.prototype, 'match').mockImplementation(function (this: BcryptPool, candidates, hashes, source) {
    calls.push({ candidates, hashes, source });
    return original.call(this, candidates, hashes, source);
  });
  return { calls, clear: () => void calls.splice(0), restore: () => spy.mockRestore() };
}
