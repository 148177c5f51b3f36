import { connect } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import { createSampleApp, seedDemo, WRITER_GROUP, type SampleApp } from '../../sample-app/app';
import { ConfigurationError } from '../../lib';
import { CENSORED, createLogger } from '../../sample-app/logging';
import { checkIssuer, parsePort, readServerConfig, serverOptions } from '../../sample-app/startup';
import { tempDir } from '../support/temp';
import { basic, bearerGet, getToken, tokenRequest } from '../support/oauth';
import { ROOT } from '../support/constants';
import { spawnNode, waitForOutput, type Spawned } from '../support/processes';

const SERVER_JS = path.join(ROOT, 'dist', 'sample-app', 'server.js');

/** The sample app on a fresh registry in a temp folder (fast bcrypt), its log lines collected in `log`. */
function sampleInTempDir(prefix: string, log: string[]): { sample: SampleApp; cleanup: () => void } {
  const tmp = tempDir(prefix);
  const sample = createSampleApp({
    db: path.join(tmp.dir, 'ccgate.db'),
    issuer: 'http://localhost:3000',
    bcryptCost: 4,
    bcryptWorkers: 1,
    log: (line) => log.push(line),
  });
  return { sample, cleanup: tmp.cleanup };
}

describe('sample app, in process', () => {
  let sample: SampleApp;
  let cleanup: () => void;
  const faults: string[] = [];
  let clientId: string;
  let clientSecret: string;

  beforeAll(async () => {
    ({ sample, cleanup } = sampleInTempDir('ccgate-sample-', faults));
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
    // RFC 9728 §5.1: every challenge names the API's protected resource metadata.
    const metadata = 'resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource"';
    expect(none.headers['www-authenticate']).toBe(`Bearer realm="ccgate", ${metadata}, DPoP realm="ccgate", algs="ES256 RS256 PS256", ${metadata}`);
  });

  test('RFC 9728: the API serves its protected resource metadata: its issuer and scopes', async () => {
    const res = await request(sample.app).get('/.well-known/oauth-protected-resource');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      resource: 'http://localhost:3000',
      authorization_servers: ['http://localhost:3000'],
      scopes_supported: ['reports:read', 'reports:write'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256'],
      resource_name: 'ccgate sample reports API',
    });
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
    const lines = faults.map((line) => JSON.parse(line) as { level?: string; audit?: { type: string } });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    // Audit events are in the log, as JSON lines.
    expect(lines.map((l) => l.audit?.type)).toEqual(expect.arrayContaining(['token.issued', 'scope.denied']));
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
      timeouts: { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 },
    });
    expect(readServerConfig({ CCGATE_DB: 'x.db', CCGATE_AUDIENCE: 'api' })).toMatchObject({ db: path.resolve('x.db'), audience: 'api' });
    // A PostgreSQL URL is used as it is, not resolved as a path.
    expect(readServerConfig({ CCGATE_DB: 'postgres://127.0.0.1/ccgate?schema=demo' }).db).toBe('postgres://127.0.0.1/ccgate?schema=demo');
  });
});

interface LogLine {
  level: string;
  time: string;
  msg: string;
  audit?: { type: string };
  method?: string;
  path?: string;
  status?: number;
  durationMs?: number;
}

/** The server's log: every line it prints after its banner's "Listening on" line, each parsed as JSON (a line that is not JSON fails). */
function logLines(stdout: string): LogLine[] {
  const start = stdout.search(/^Listening on .*$/m);
  expect(start).toBeGreaterThanOrEqual(0);
  const lines = stdout
    .slice(start)
    .split('\n')
    .slice(1)
    .filter((line) => line !== '');
  return lines.map((line) => JSON.parse(line) as LogLine);
}

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
      // After the banner, stdout is the log: JSON lines, audit events among them, no fault.
      const logged = logLines(server.stdout());
      expect(logged.map((e) => e.audit?.type)).toContain('token.issued');
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

describe("the operator's view, in process", () => {
  let sample: SampleApp;
  let cleanup: () => void;
  const lines: string[] = [];

  beforeAll(async () => {
    ({ sample, cleanup } = sampleInTempDir('ccgate-sample-ops-', lines));
    await sample.auth.ready();
  });
  afterAll(async () => {
    await sample.auth.close();
    cleanup();
  });

  test('GET /healthz, /readyz (keeping /api/health) and /metrics: ccgate families beside Node process metrics', async () => {
    expect((await request(sample.app).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(sample.app).get('/readyz')).body).toEqual({ status: 'ready' });
    expect((await request(sample.app).get('/api/health')).body).toEqual({ status: 'ok' });
    const metrics = await request(sample.app).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.text).toMatch(/^ccgate_tokens_issued_total\{alg="RS256"\} 0$/m);
    expect(metrics.text).toMatch(/^ccgate_signing_keys\{alg="RS256",status="active"\} 1$/m);
    expect(metrics.text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  test('each request is one JSON line: method, path without the query, status, duration', async () => {
    lines.length = 0;
    await request(sample.app).get('/api/reports?access_token=abc.def.ghi');
    const logged = lines.map((l) => JSON.parse(l) as LogLine);
    expect(logged).toEqual([
      expect.objectContaining({ level: 'info', msg: 'request', method: 'GET', path: '/api/reports', status: 400, durationMs: expect.any(Number) }),
    ]);
    expect(lines.join('\n')).not.toContain('abc.def.ghi');
  });

  test("the logger's redaction: Authorization and Cookie headers, client secrets, tokens, passwords", () => {
    const out: string[] = [];
    const logger = createLogger((l) => out.push(l));
    logger.info(
      {
        req: { headers: { authorization: 'Basic c2VjcmV0', cookie: 'session=1', accept: '*/*' } },
        client_secret: 'topsecret',
        body: { client_secret: 'topsecret', token: 'eyJ.a.b', access_token: 'eyJ.c.d' },
        auth: { token: 'eyJ.e.f', clientId: 'c1' },
        password: 'pw',
      },
      'anything',
    );
    const line = JSON.parse(out[0]);
    expect(line.req.headers).toEqual({ authorization: CENSORED, cookie: CENSORED, accept: '*/*' });
    expect(line.client_secret).toBe(CENSORED);
    expect(line.body).toEqual({ client_secret: CENSORED, token: CENSORED, access_token: CENSORED });
    expect(line.auth).toEqual({ token: CENSORED, clientId: 'c1' });
    expect(line.password).toBe(CENSORED);
    expect(out[0]).not.toMatch(/topsecret|c2VjcmV0|eyJ|session=1|"pw"/);
  });
});

describe('sample server HTTP timeouts', () => {
  test("defaults well under Node's 300 s; HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS set them", () => {
    expect(serverOptions(readServerConfig({}).timeouts)).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: 1000,
    });
    const set = readServerConfig({ HEADERS_TIMEOUT_MS: '500', REQUEST_TIMEOUT_MS: '800', KEEP_ALIVE_TIMEOUT_MS: '100' });
    expect(serverOptions(set.timeouts)).toEqual({ headersTimeout: 500, requestTimeout: 800, keepAliveTimeout: 100, connectionsCheckingInterval: 500 });
    for (const bad of ['0', '-1', '1.5', 'soon', '3600001']) expect(() => readServerConfig({ REQUEST_TIMEOUT_MS: bad })).toThrow(/REQUEST_TIMEOUT_MS/);
    expect(() => readServerConfig({ HEADERS_TIMEOUT_MS: '40000' })).toThrow(/must not exceed REQUEST_TIMEOUT_MS/);
  });
});

/**
 * Sends `head` at once, then one byte of `drip` every `intervalMs` (at most `drip.length` bytes), until
 * the server closes the connection. Resolves with what the server answered and how many bytes were dripped.
 */
function slowDrip(port: number, head: string, drip: string, intervalMs: number): Promise<{ answer: string; dripped: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let dripped = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined); // a reset after the 408 is a close too
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, dripped });
    });
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (dripped === drip.length) {
          clearInterval(timer);
          socket.destroy();
          return reject(new Error(`the server kept the connection open for all ${dripped} bytes`));
        }
        socket.write(drip[dripped++]);
      }, intervalMs);
    });
  });
}

describe('built sample server: metrics, health, logs, timeouts', () => {
  test('serves /metrics, /healthz and /readyz, and logs JSON lines without the secret, the token or the Authorization header', async () => {
    const tmp = tempDir('ccgate-sample-server-');
    const server = startBuiltServer({ PORT: '0', HOST: '127.0.0.1', CCGATE_DB: path.join(tmp.dir, 'ccgate.db') });
    try {
      const [, base] = await waitForOutput(server, /^Listening on (http:\/\/127\.0\.0\.1:\d+)/m);
      const clientId = /^ {2}client_id: +(\S+)$/m.exec(server.stdout())![1];
      const clientSecret = /^ {2}client_secret: +(\S+)$/m.exec(server.stdout())![1];
      const authorization = basic(clientId, clientSecret);
      const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
      const tokenRes = await fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { Authorization: authorization, ...form },
        body: 'grant_type=client_credentials',
      });
      expect(tokenRes.status).toBe(200);
      const { access_token: token } = (await tokenRes.json()) as { access_token: string };
      expect((await fetch(`${base}/api/reports`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
      // Credentials where a careless client puts them: a token in the query, a secret and a token in a form body.
      expect((await fetch(`${base}/api/reports?access_token=${token}`)).status).toBe(400);
      const body = new URLSearchParams({ token, client_id: clientId, client_secret: clientSecret }).toString();
      // The demo client authenticates with Basic (RFC 6749 §2.3: its own method only): refused, and still never logged.
      expect((await fetch(`${base}/oauth/introspect`, { method: 'POST', headers: form, body })).status).toBe(401);
      expect(
        (await fetch(`${base}/oauth/introspect`, { method: 'POST', headers: { Authorization: authorization, ...form }, body: `token=${token}` })).status,
      ).toBe(200);

      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' });
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const scraped = await metrics.text();
      expect(scraped).toMatch(/^ccgate_tokens_issued_total\{alg="RS256"\} 1$/m);
      expect(scraped).toMatch(/^ccgate_guard_decisions_total\{outcome="accepted",reason="none"\} 1$/m);

      server.proc.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      const logged = logLines(server.stdout());
      for (const line of logged)
        expect(line).toEqual(expect.objectContaining({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) }));
      const requests = logged.filter((l) => l.msg === 'request').map(({ method, path, status }) => ({ method, path, status }));
      expect(requests).toEqual(
        expect.arrayContaining([
          { method: 'POST', path: '/oauth/token', status: 200 },
          { method: 'GET', path: '/api/reports', status: 200 },
          { method: 'GET', path: '/api/reports', status: 400 },
          { method: 'POST', path: '/oauth/introspect', status: 200 },
          { method: 'GET', path: '/metrics', status: 200 },
        ]),
      );
      expect(logged.map((l) => l.audit?.type)).toEqual(expect.arrayContaining(['token.issued', 'token.introspected']));
      const log = logged.map((l) => JSON.stringify(l)).join('\n');
      for (const secret of [clientSecret, token, token.split('.')[2], authorization, authorization.slice('Basic '.length)]) expect(log).not.toContain(secret);
    } finally {
      if (server.running()) server.proc.kill('SIGKILL');
      await server.exited;
      tmp.cleanup();
    }
  });

  test('a client dripping its headers, or its body, is answered 408 and cut off (HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS)', async () => {
    const tmp = tempDir('ccgate-sample-server-');
    const env = { PORT: '0', HOST: '127.0.0.1', CCGATE_DB: path.join(tmp.dir, 'ccgate.db'), HEADERS_TIMEOUT_MS: '500', REQUEST_TIMEOUT_MS: '1000' };
    const server = startBuiltServer(env);
    try {
      const [, port] = await waitForOutput(server, /^Listening on http:\/\/127\.0\.0\.1:(\d+)/m);
      // One byte every 200 ms, for at most 60 bytes (12 s): each would keep a connection for minutes under Node's defaults.
      const drip = 'X'.repeat(60);
      const [headers, body] = await Promise.all([
        slowDrip(Number(port), 'GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ', drip, 200),
        slowDrip(
          Number(port),
          'POST /oauth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n',
          drip,
          200,
        ),
      ]);
      for (const cut of [headers, body]) {
        expect(cut.answer).toMatch(/^HTTP\/1\.1 408 /);
        expect(cut.dripped).toBeLessThan(drip.length);
      }
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
      tmp.cleanup();
    }
  });
});
