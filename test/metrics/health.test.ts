/**
 * auth.healthRouter() over real HTTP: /healthz answers while the process serves; /readyz only when the
 * registry answers and a signing key exists, otherwise 503 with the reason, and in time.
 */
import { join } from 'node:path';
import express from 'express';
import { ccgate, type Ccgate, type CcgateOptions } from '../../lib';
import { listen, type Listening } from '../support/http';
import { closedPort, silentServer } from '../support/postgres';
import { tempDir } from '../support/temp';

interface Served {
  auth: Ccgate;
  server: Listening;
  close(): Promise<void>;
}

/** ccgate() on `db` with only the health routes mounted (no token router: no signing key is made by itself). */
async function serveHealth(db: string, options: Partial<CcgateOptions> = {}, timeoutMs?: number): Promise<Served> {
  const auth = ccgate({ db, issuer: 'http://127.0.0.1', bcryptCost: 4, bcryptWorkers: 0, ...options });
  const app = express();
  app.use(auth.healthRouter(timeoutMs === undefined ? undefined : { timeoutMs }));
  const server = await listen(app);
  return {
    auth,
    server,
    async close() {
      await server.stop();
      await auth.close();
    },
  };
}

async function get(served: Served, path: string): Promise<{ status: number; body: unknown; cacheControl: string | null }> {
  const res = await fetch(`${served.server.origin}${path}`);
  return { status: res.status, body: await res.json(), cacheControl: res.headers.get('cache-control') };
}

describe('on a SQLite registry', () => {
  const tmp = tempDir('ccgate-health-');
  let served: Served;
  beforeAll(async () => {
    served = await serveHealth(join(tmp.dir, 'ccgate.db'));
  });
  afterAll(async () => {
    await served.close();
    tmp.cleanup();
  });

  test('/healthz is 200 {"status":"ok"}, never cached', async () => {
    expect(await get(served, '/healthz')).toEqual({ status: 200, body: { status: 'ok' }, cacheControl: 'no-store' });
  });

  test('/readyz is 503 no_signing_key until a key exists, then 200 {"status":"ready"}', async () => {
    expect(await get(served, '/readyz')).toEqual({ status: 503, body: { status: 'not_ready', reason: 'no_signing_key' }, cacheControl: 'no-store' });
    await served.auth.ready(); // makes the signing key
    expect(await get(served, '/readyz')).toEqual({ status: 200, body: { status: 'ready' }, cacheControl: 'no-store' });
  });

  test('/readyz is 503 registry_unavailable once the registry is closed; /healthz stays 200', async () => {
    await served.auth.registry.close();
    expect((await get(served, '/readyz')).body).toEqual({ status: 'not_ready', reason: 'registry_unavailable' });
    expect((await get(served, '/healthz')).status).toBe(200);
  });
});

test('a PostgreSQL URL on a closed port: /readyz is 503 registry_unavailable, /healthz 200', async () => {
  const served = await serveHealth(`postgres://127.0.0.1:${await closedPort()}/none`);
  try {
    expect(await get(served, '/readyz')).toEqual({ status: 503, body: { status: 'not_ready', reason: 'registry_unavailable' }, cacheControl: 'no-store' });
    expect((await get(served, '/healthz')).status).toBe(200);
  } finally {
    await served.close();
  }
});

test('a database that accepts connections and never answers: /readyz is 503 registry_timeout after timeoutMs', async () => {
  const silent = await silentServer();
  const served = await serveHealth(`postgres://127.0.0.1:${silent.port}/none`, { postgres: { connectTimeoutMs: 5000 } }, 300);
  try {
    // The connection attempt would wait 5 s: the probe answers when its own 300 ms are up.
    expect((await get(served, '/readyz')).body).toEqual({ status: 'not_ready', reason: 'registry_timeout' });
  } finally {
    await silent.close();
    await served.close();
  }
});
