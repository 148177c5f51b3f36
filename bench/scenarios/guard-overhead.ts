/**
 * 1. Guard overhead: the same small JSON route bare, behind ccgate's local guard (requireScope),
 * behind remoteGuard (JWKS mode, keys from the separately running issuer process) and behind Auth0's
 * express-oauth2-jwt-bearer (auth() + requiredScopes()), all with the same RS256 token repeated.
 * Every request, bare included, carries the same Authorization header.
 */
import { AUDIENCE, fmt, ISSUER, measureInterleaved, ratioRow, type Measured, SCOPE, type ResultRow, type Scenario } from '../lib/common';
import { startGuardServer } from '../lib/ccgate';
import { compiledServer, expect200, sourceServer, startServer } from '../lib/harness';

export const guardOverhead: Scenario = {
  name: 'guard-overhead',
  title: 'Guard overhead (same RS256 token repeated)',
  async run(ctx) {
    const local = await startGuardServer('ccgate', 'sqlite', { bare: 'bare route', guard: 'ccgate local guard' });
    const issuer = local.server;
    const jwksUri = `${issuer.url}/oauth/jwks`;
    const peer = { issuer: ISSUER, audience: AUDIENCE, jwksUri, scope: SCOPE };
    const remote = await startServer('remote-guard', compiledServer('remote-guard-server'), peer);
    const auth0 = await startServer('auth0', sourceServer('auth0-server.mjs'), peer);
    try {
      const token = local.token;
      for (const s of [remote, auth0]) await expect200(`${s.url}/guarded`, token);
      const headers = { authorization: `Bearer ${token}` };
      const m = await measureInterleaved(
        [
          local.bare,
          local.guard,
          { label: 'ccgate remoteGuard (JWKS)', spec: { url: remote.url, path: '/guarded', headers }, stats: remote.url },
          { label: 'Auth0 express-oauth2-jwt-bearer', spec: { url: auth0.url, path: '/guarded', headers }, stats: auth0.url },
        ],
        ctx,
      );
      const rps = (label: string): number => (m.get(label) as Measured).rps;
      const cpuOf = (label: string): number => m.get(label)?.cpuPerRequest ?? NaN;
      const cpu = (label: string): string => `${fmt(cpuOf(label))} µs`;
      const cpuNote = (a: string, b: string): string => `server CPU per request (median round): ${a} ${cpu(a)}, ${b} ${cpu(b)}`;
      const bare = rps('bare route');
      const localRps = rps('ccgate local guard');
      const remoteRps = rps('ccgate remoteGuard (JWKS)');
      const auth0Rps = rps('Auth0 express-oauth2-jwt-bearer');
      const S = this.name;
      const rows: ResultRow[] = [
        ratioRow(S, 'local guard req/s vs bare', 'req/s', localRps, bare, 'bare', { min: 0.93 }, cpuNote('ccgate local guard', 'bare route')),
        ratioRow(
          S,
          'local guard req/s vs Auth0 guard',
          'req/s',
          localRps,
          auth0Rps,
          'Auth0',
          { min: 1.9 },
          cpuNote('ccgate local guard', 'Auth0 express-oauth2-jwt-bearer'),
        ),
        ratioRow(S, 'remoteGuard (JWKS) req/s vs bare', 'req/s', remoteRps, bare, 'bare', { min: 0.93 }, cpuNote('ccgate remoteGuard (JWKS)', 'bare route')),
        ratioRow(S, 'remoteGuard (JWKS) req/s vs Auth0', 'req/s', remoteRps, auth0Rps, 'Auth0', null),
        ratioRow(S, 'Auth0 guard req/s vs bare', 'req/s', auth0Rps, bare, 'bare', null),
        ratioRow(
          S,
          'local guard server CPU per request vs bare',
          'µs',
          cpuOf('ccgate local guard'),
          cpuOf('bare route'),
          'bare',
          null,
          'user + system CPU of the server process per 2xx response (median round); less sensitive to machine noise than req/s',
        ),
        ratioRow(
          S,
          'Auth0 guard server CPU per request vs local guard',
          'µs',
          cpuOf('Auth0 express-oauth2-jwt-bearer'),
          cpuOf('ccgate local guard'),
          'local guard',
          null,
        ),
      ];
      return rows;
    } finally {
      await Promise.all([issuer.stop(), remote.stop(), auth0.stop()]);
    }
  },
};
