import path from 'node:path';
import request from 'supertest';
import { createSampleApp, seedDemo, WRITER_GROUP, type SampleApp } from '../../sample-app/app';
import { ConfigurationError } from '../../lib';
import { checkIssuer, parsePort, readServerConfig } from '../../sample-app/startup';
import { tempDir } from '../support/temp';
import { basic, bearerGet, getToken, tokenRequest } from '../support/oauth';
import { ROOT } from '../support/constants';
import { spawnNode, waitForOutput, type Spawned } from '../support/processes';

const SERVER_JS = path.join(ROOT, 'dist', 'sample-app', 'server.js');

describe('sample app, in process', () => {
  let sample: SampleApp;
  let cleanup: () => void;
  const faults: string[] = [];
  let clientId: string;
  let clientSecret: string;

  beforeAll(async () => {
    const tmp = tempDir('ccgate-sample-');
    cleanup = tmp.cleanup;
    sample = createSampleApp({
      db: path.join(tmp.dir, 'ccgate.db'),
      issuer: 'http://localhost:3000',
      bcryptCost: 4,
      bcryptWorkers: 1,
      log: (line) => faults.push(line),
    });
    const seed = await seedDemo(sample.auth);
    if (!seed.created) throw new Error('expected the first seeding to create the demo client');
    ({ clientId, clientSecret } = seed);
  });
  afterAll(async () => {
    await sample.auth.close();
    cleanup();
  });

  test('seeding creates the groups and one reader client, then leaves a non-empty registry alone', async () => {
    const groups = await sample.auth.registry.listGroups();
    expect(groups.map((g) => [g.name, g.scopes])).toEqual([
      ['reports-reader', ['reports:read']],
      ['reports-writer', ['reports:write']],
    ]);
    const client = await sample.auth.registry.getClient(clientId);
    expect(client?.groups).toEqual(['reports-reader']);
    expect(clientSecret.length).toBeGreaterThanOrEqual(16);
    expect(await seedDemo(sample.auth)).toEqual({ created: false, clientCount: 1 });
  });

  test('token with the seeded credentials; reports 200, write 403, health 200, no token 401', async () => {
    const tokenRes = await tokenRequest(sample.app, clientId, clientSecret);
    expect(tokenRes.status).toBe(200);
    expect(tokenRes.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'reports:read' });
    const token = tokenRes.body.access_token as string;

    const reports = await bearerGet(sample.app, token);
    expect(reports.status).toBe(200);
    expect(reports.body.client).toBe(clientId);
    expect(Array.isArray(reports.body.reports)).toBe(true);

    const write = await request(sample.app).post('/api/reports').set('Authorization', `Bearer ${token}`).send({ title: 'Q3' });
    expect(write.status).toBe(403);
    expect(write.body.error).toBe('insufficient_scope');
    expect(write.headers['www-authenticate']).toContain('error="insufficient_scope"');

    const health = await request(sample.app).get('/api/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });

    const none = await request(sample.app).get('/api/reports');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="ccgate"');
  });

  test('RFC 8414 metadata names the token endpoint under /oauth', async () => {
    const res = await request(sample.app).get('/.well-known/oauth-authorization-server');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ issuer: 'http://localhost:3000', token_endpoint: 'http://localhost:3000/oauth/token' });
  });

  test('unknown routes answer 404 JSON', async () => {
    const res = await request(sample.app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.type).toBe('application/json');
    expect(res.body.error).toBe('not_found');
  });

  test('after joining reports-writer, a new token may POST /api/reports (201); bad JSON is 400', async () => {
    await sample.auth.registry.addClientGroups(clientId, [WRITER_GROUP]);
    const token = await getToken(sample, clientId, clientSecret);
    const created = await request(sample.app).post('/api/reports').set('Authorization', `Bearer ${token}`).send({ title: 'Q3 churn', value: 4.2 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'Q3 churn', value: 4.2, createdBy: clientId });
    const listed = await bearerGet(sample.app, token);
    expect(listed.body.reports.map((r: { title: string }) => r.title)).toContain('Q3 churn');

    const noTitle = await request(sample.app).post('/api/reports').set('Authorization', `Bearer ${token}`).send({});
    expect(noTitle.status).toBe(400);
    const broken = await request(sample.app)
      .post('/api/reports')
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/json')
      .send('{"title":');
    expect(broken.status).toBe(400);
    expect(broken.body.error).toBe('invalid_request');
    const lines = faults.map((line) => JSON.parse(line) as { level?: string; type?: string });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    // Audit events are logged as JSON lines.
    expect(lines.map((l) => l.type)).toEqual(expect.arrayContaining(['token.issued', 'scope.denied']));
  });
});

describe('sample server settings', () => {
  test('PORT', () => {
    expect(parsePort(undefined)).toBe(3000);
    expect(parsePort('0')).toBe(0);
    expect(parsePort('8080')).toBe(8080);
    for (const bad of ['abc', '-1', '65536', '80.5', ' 80', '1e3']) expect(() => parsePort(bad)).toThrow(ConfigurationError);
  });

  test('CCGATE_ISSUER is used verbatim; a trailing slash is refused with the fix', () => {
    expect(checkIssuer('https://auth.example.com')).toBe('https://auth.example.com');
    expect(() => checkIssuer('http://localhost:3000/')).toThrow(/trailing "\/".*CCGATE_ISSUER=http:\/\/localhost:3000$/);
    expect(() => checkIssuer('localhost:3000')).toThrow(ConfigurationError);
    expect(() => checkIssuer('https://a.example?x=1')).toThrow(/query/);
  });

  test('defaults', () => {
    const config = readServerConfig({});
    expect(config).toEqual({
      port: 3000,
      host: '127.0.0.1',
      db: path.join(ROOT, 'sample-app', 'ccgate.db'),
      issuer: undefined,
      audience: undefined,
    });
    expect(readServerConfig({ CCGATE_DB: 'x.db', CCGATE_AUDIENCE: 'api' })).toMatchObject({ db: path.resolve('x.db'), audience: 'api' });
    // A PostgreSQL URL is used as it is, not resolved as a path.
    expect(readServerConfig({ CCGATE_DB: 'postgres://127.0.0.1/ccgate?schema=demo' }).db).toBe('postgres://127.0.0.1/ccgate?schema=demo');
  });
});

/** dist/sample-app/server.js as a child process, the caller's CCGATE_ISSUER / CCGATE_AUDIENCE blanked. */
function startBuiltServer(env: Record<string, string>): Spawned {
  return spawnNode(SERVER_JS, [], { cwd: ROOT, env: { ...process.env, CCGATE_ISSUER: '', CCGATE_AUDIENCE: '', ...env } });
}

describe('built sample server (dist/sample-app/server.js)', () => {
  test('prints credentials that work, serves the API, exits cleanly on SIGTERM', async () => {
    const tmp = tempDir('ccgate-sample-server-');
    // NODE_ENV=production would make ccgate refuse plain HTTP by default: the sample must not.
    const server = startBuiltServer({ PORT: '0', HOST: '127.0.0.1', CCGATE_DB: path.join(tmp.dir, 'ccgate.db'), NODE_ENV: 'production' });
    try {
      const [, base] = await waitForOutput(server, /^Listening on (http:\/\/127\.0\.0\.1:\d+)/m);
      const port = new URL(base).port;
      expect(Number(port)).toBeGreaterThan(0);
      const out = server.stdout();
      const clientId = /^ {2}client_id: +(\S+)$/m.exec(out)?.[1];
      const clientSecret = /^ {2}client_secret: +(\S+)$/m.exec(out)?.[1];
      expect(clientId).toBeDefined();
      expect(clientSecret).toBeDefined();
      // The default issuer names the port actually bound, and the printed commands use it.
      expect(out).toContain(`issuer    http://localhost:${port}\n`);
      expect(out).toContain(`-d grant_type=client_credentials http://localhost:${port}/oauth/token`);
      expect(out).toContain(`client add-group ${clientId!.startsWith('-') ? '-- ' : ''}${clientId} reports-writer`);

      const tokenRes = await fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { Authorization: basic(clientId!, clientSecret!), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      expect(tokenRes.status).toBe(200);
      const { access_token: token } = (await tokenRes.json()) as { access_token: string };
      const reports = await fetch(`${base}/api/reports`, { headers: { Authorization: `Bearer ${token}` } });
      expect(reports.status).toBe(200);
      expect(((await reports.json()) as { client: string }).client).toBe(clientId);
      const none = await fetch(`${base}/api/reports`);
      expect(none.status).toBe(401);

      server.proc.kill('SIGTERM');
      const exit = await server.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(server.stdout()).toContain('Stopped.');
      // stderr holds only the audit log: JSON lines, no fault.
      const logged = server
        .stderr()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { type?: string; level?: string });
      expect(logged.map((e) => e.type)).toContain('token.issued');
      expect(logged.filter((e) => e.level === 'error')).toEqual([]);
    } finally {
      if (server.running()) server.proc.kill('SIGKILL');
      await server.exited;
      tmp.cleanup();
    }
  });

  test('a second start keeps the registry and says how to list clients', async () => {
    const tmp = tempDir('ccgate-sample-server-');
    const env = { PORT: '0', HOST: '127.0.0.1', CCGATE_DB: path.join(tmp.dir, 'ccgate.db') };
    try {
      for (const expected of [/client_secret: /, /already has 1 client.*\n[\s\S]*client list/]) {
        const server = startBuiltServer(env);
        try {
          await waitForOutput(server, /^Listening on /m);
          expect(server.stdout()).toMatch(expected);
          server.proc.kill('SIGINT');
          expect(await server.exited).toEqual({ code: 0, signal: null });
        } finally {
          if (server.running()) server.proc.kill('SIGKILL');
          await server.exited;
        }
      }
    } finally {
      tmp.cleanup();
    }
  });

  test.each([
    [{ PORT: 'eighty' }, /Invalid PORT "eighty"/],
    [{ PORT: '0', CCGATE_ISSUER: 'http://localhost:3000/' }, /remove the trailing "\/"/],
  ])('refuses bad settings with a clear message and exit code 1: %j', async (env, message) => {
    const server = startBuiltServer(env);
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.stderr()).toMatch(message);
    expect(server.stdout()).toBe('');
  });
});
