/** Pre-minted distinct tokens for the first-sight and memory scenarios, from the separate minter process. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AUDIENCE, fmt, ISSUER, SCOPE, type RunContext } from './common';
import { compiledServer, runChild, tempDir } from './harness';
import type { Seeded } from './seed';

/**
 * `count` distinct tokens signed with the seeded registry's `alg` key, as the token endpoint signs them;
 * with `jkt`, DPoP-bound to that key thumbprint (cnf.jkt, RFC 9449 §6.1).
 */
export async function mintTokens(ctx: RunContext, seeded: Seeded, alg: 'RS256' | 'ES256', count: number, options: { jkt?: string } = {}): Promise<string[]> {
  const out = path.join(tempDir(), 'tokens.txt');
  const minted = await runChild('minter', compiledServer('minter'), {
    db: seeded.db,
    alg,
    count,
    clientId: seeded.clientIds[0],
    issuer: ISSUER,
    audience: AUDIENCE,
    scope: SCOPE,
    out,
    ...(options.jkt === undefined ? {} : { jkt: options.jkt }),
  });
  ctx.log(`  minted ${fmt(count)} ${options.jkt === undefined ? '' : 'DPoP-bound '}${alg} tokens in ${String(minted.seconds)} s`);
  const tokens = readFileSync(out, 'utf8').split('\n');
  if (tokens.length !== count || new Set(tokens).size !== count) throw new Error('the minter did not produce distinct tokens');
  return tokens;
}
