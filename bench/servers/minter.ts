/**
 * Token minter (a child process, so neither the server under test nor the load generator pays for it):
 * signs `count` distinct access tokens exactly as ccgate's token endpoint does (buildClaims +
 * signAccessToken with the registry's active key, loaded through the same Keyring) and writes them to
 * `out`, one per line. node:crypto's async sign spreads the work over libuv's thread pool.
 * argv[2]: {"db","alg","count","clientId","issuer","audience","scope","out"} and optionally "jkt" (every token then DPoP-bound to
 * that key thumbprint, cnf.jkt, as the token endpoint binds a token requested with a DPoP proof). Prints {"count":N,"seconds":S}.
 */
import { writeFileSync } from 'node:fs';
import { holdOpen } from './hold-open';
import { openRegistry, type SigningAlgorithm } from '../../lib';
import { buildClaims, Keyring, signAccessToken } from '../../lib/tokens';

interface Config {
  db: string;
  alg: SigningAlgorithm;
  count: number;
  clientId: string;
  issuer: string;
  audience: string;
  scope: string;
  out: string;
  jkt?: string;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]) as Config;
  const started = Date.now();
  const registry = openRegistry(config.db, { pruneIntervalSeconds: 0 });
  const key = await new Keyring(registry).signingKey(config.alg);
  const tokens: string[] = new Array<string>(config.count);
  const batch = 512;
  for (let i = 0; i < config.count; i += batch) {
    const jobs: Promise<void>[] = [];
    for (let j = i; j < Math.min(i + batch, config.count); j++) {
      const claims = buildClaims({
        issuer: config.issuer,
        audience: config.audience,
        clientId: config.clientId,
        scopes: [config.scope],
        lifetimeSeconds: 3600,
        now: Math.floor(Date.now() / 1000),
        jkt: config.jkt,
      });
      jobs.push(signAccessToken(claims, key).then((t) => void (tokens[j] = t)));
    }
    await Promise.all(jobs);
  }
  writeFileSync(config.out, tokens.join('\n'));
  await holdOpen(registry.close());
  process.stdout.write(`${JSON.stringify({ count: tokens.length, seconds: (Date.now() - started) / 1000 })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
