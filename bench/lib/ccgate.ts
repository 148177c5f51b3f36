/**
 * The ccgate bench server (servers/ccgate-server.ts) on a seeded registry of either backend, and the
 * load targets scenarios build on it. A scenario names the backend when it seeds; everything after
 * that is the same code for SQLite and PostgreSQL.
 */
import type { SigningAlgorithm } from '../../lib';
import { AUDIENCE, ISSUER, SCOPE, TOKEN_BODY, tokenEndpointSpec, type Target } from './common';
import { basicAuth, compiledServer, expect200, fetchToken, jwtHeader, startServer, type ServerHandle } from './harness';
import { seedRegistry, type Backend, type Seeded } from './seed';

/** What servers/ccgate-server.ts takes besides the registry and the constants. */
export interface CcgateServerOptions {
  algorithm?: SigningAlgorithm;
  bcryptWorkers?: number;
  /** false: no failed-authentication throttle (default: ccgate's default throttle). */
  throttle?: boolean;
}

/** servers/ccgate-server.ts's argv[2]. */
export interface CcgateServerConfig extends CcgateServerOptions {
  /** A SQLite file path or a postgres:// URL: ccgate({ db }) takes either. */
  db: string;
  issuer: string;
  audience: string;
  scope: string;
}

/** Starts the ccgate bench server on `seeded`'s registry. */
export function startCcgate(label: string, seeded: Seeded, options: CcgateServerOptions = {}): Promise<ServerHandle> {
  const config: CcgateServerConfig = { ...options, db: seeded.db, issuer: ISSUER, audience: AUDIENCE, scope: SCOPE };
  return startServer(label, compiledServer('ccgate-server'), config);
}

/** Repeat clients at a token endpoint: each of the seeded clients in turn, client_secret_basic. */
export function repeatClientsTarget(label: string, server: ServerHandle, seeded: Seeded, path = '/oauth/token'): Target {
  return {
    label,
    stats: server.url,
    companion: seeded.companion,
    spec: tokenEndpointSpec(server.url, {
      path,
      variants: seeded.clientIds.map((id) => ({ headers: { authorization: basicAuth(id, seeded.secret) } })),
    }),
  };
}

/**
 * Every client asks once, one at a time, before any load (so they are repeat clients: without it, 10
 * connections asking for the same cold client at once each run their own bcrypt compare), and each
 * token must be signed with `alg`. Returns the first token.
 */
export async function warmClients(server: ServerHandle, seeded: Seeded, alg: SigningAlgorithm, path = '/oauth/token'): Promise<string> {
  const tokens: string[] = [];
  for (const clientId of seeded.clientIds) {
    const token = await fetchToken(`${server.url}${path}`, clientId, seeded.secret, TOKEN_BODY);
    const header = jwtHeader(token);
    if (header.alg !== alg) throw new Error(`${server.name}: expected a ${alg} JWT, got ${JSON.stringify(header)}`);
    tokens.push(token);
  }
  return tokens[0];
}

export interface TokenServer {
  seeded: Seeded;
  server: ServerHandle;
  target: Target;
}

/** A ccgate token endpoint signing with `alg` on a registry of `backend` with 4 seeded clients, warmed, as a repeat-client target. */
export async function startTokenServer(label: string, backend: Backend, alg: SigningAlgorithm): Promise<TokenServer> {
  const seeded = await seedRegistry({ backend, clients: 4, algorithms: [alg] });
  const server = await startCcgate(label, seeded, { algorithm: alg });
  try {
    await warmClients(server, seeded, alg);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { seeded, server, target: repeatClientsTarget(label, server, seeded) };
}

export interface GuardServer {
  seeded: Seeded;
  server: ServerHandle;
  /** An RS256 token the server issued, repeated by every request of both targets. */
  token: string;
  /** The bare route of the server's process, and its local guard (cache hits: the same token again and again). */
  bare: Target;
  guard: Target;
}

/** A ccgate server on a registry of `backend` (4 clients, RS256), one token it issued, checked at its guard, and its bare and local-guard targets. */
export async function startGuardServer(label: string, backend: Backend, labels: { bare: string; guard: string }): Promise<GuardServer> {
  const seeded = await seedRegistry({ backend, clients: 4, algorithms: ['RS256'] });
  const server = await startCcgate(label, seeded);
  try {
    const token = await fetchToken(`${server.url}/oauth/token`, seeded.clientIds[0], seeded.secret, TOKEN_BODY);
    if (jwtHeader(token).alg !== 'RS256') throw new Error('expected an RS256 token');
    await expect200(`${server.url}/guarded`, token);
    const headers = { authorization: `Bearer ${token}` };
    const target = (targetLabel: string, path: string): Target => ({
      label: targetLabel,
      spec: { url: server.url, path, headers },
      stats: server.url,
      companion: seeded.companion,
    });
    return { seeded, server, token, bare: target(labels.bare, '/bare'), guard: target(labels.guard, '/guarded') };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
