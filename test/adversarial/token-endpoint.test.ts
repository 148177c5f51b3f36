/**
 * Attacks on POST /oauth/token (RFC 6749 §2.3, §3.2, §4.4, §5.2): malformed credentials, ambiguous
 * requests, hostile bodies and scopes, odd clients, plain HTTP.
 */
import express from 'express';
import request from 'supertest';
import { rawSocketRequest } from '../support/http';
import { basic, basicBytes, bearerGet, expectInvalidClient, expectTokenError, getToken, tokenRequest } from '../support/oauth';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
let clientId: string;
let clientSecret: string;

beforeAll(async () => {
  server = createTestServer();
  ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read', 'reports:write'], { group: 'reporting' }));
});
afterAll(() => server.close());

const token = () => request(server.app).post('/oauth/token');
const GRANT = 'grant_type=client_credentials';

describe('malformed client_secret_basic headers: 400 invalid_request, never a 500', () => {
  test.each([
    ['no colon in the decoded pair', basicBytes('justanid')],
    ['not base64 at all', 'Basic !!!not-base64!!!'],
    ['base64 with bad padding', 'Basic YWJj='],
    ['base64url alphabet (not RFC 4648 §4 base64)', `Basic ${Buffer.from('a?>:b?>').toString('base64url')}`],
    ['an empty client id (":secret")', basicBytes(':some-secret')],
    ['both parts empty (":")', basicBytes(':')],
    ['the scheme alone ("Basic")', 'Basic'],
    ['the scheme and spaces only', 'Basic    '],
    ['two tokens after the scheme', `Basic ${Buffer.from('a:b').toString('base64')} ${Buffer.from('c:d').toString('base64')}`],
  ])('Basic header with %s', async (_label, header) => {
    const res = await token().set('Authorization', header).type('form').send(GRANT);
    expectTokenError(res, 400, 'invalid_request');
  });

  test('bad percent-encoding in the id is read as sent (RFC 6749 §2.3.1 and the raw form many clients send): an unknown client, 401', async () => {
    const res = await token().set('Authorization', basicBytes('%zz:secret')).type('form').send(GRANT);
    expectInvalidClient(res);
  });

  test('a Basic header over 1024 characters is 400 invalid_request (not parsed, no lookup)', async () => {
    const res = await token()
      .set('Authorization', basicBytes(`${'a'.repeat(800)}:${'b'.repeat(800)}`))
      .type('form')
      .send(GRANT);
    expectTokenError(res, 400, 'invalid_request');
    expect(res.body.error_description).toMatch(/too long/);
  });

  test('an empty secret ("id:") is an authentication failure: 401 invalid_client', async () => {
    expectInvalidClient(
      await token()
        .set('Authorization', basicBytes(`${clientId}:`))
        .type('form')
        .send(GRANT),
    );
  });

  test('non-UTF-8 bytes inside the base64 credentials are 401 invalid_client (decoded leniently, unknown id)', async () => {
    const bytes = Buffer.concat([Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(`:${clientSecret}`)]);
    expectInvalidClient(await token().set('Authorization', basicBytes(bytes)).type('form').send(GRANT));
    // The real id with a stray invalid byte is not the real client either.
    const spoof = Buffer.concat([Buffer.from(clientId), Buffer.from([0xff]), Buffer.from(`:${clientSecret}`)]);
    expectInvalidClient(await token().set('Authorization', basicBytes(spoof)).type('form').send(GRANT));
  });

  test('raw latin1 / non-ASCII bytes in the Authorization header line are 400 invalid_request', async () => {
    const res = await rawSocketRequest(
      server.app,
      ['POST /oauth/token HTTP/1.1', 'Authorization: Basic \xff\xfe\xc3\xa9==', 'Content-Type: application/x-www-form-urlencoded'],
      GRANT,
    );
    expectTokenError(res, 400, 'invalid_request');
  });

  test('a Basic scheme in odd case still parses (RFC 7235 §2.1: case-insensitive scheme)', async () => {
    const res = await token().set('Authorization', basic(clientId, clientSecret).replace('Basic', 'bAsIc')).type('form').send(GRANT);
    expect(res.status).toBe(200);
  });
});

describe('ambiguous requests', () => {
  test('both client_secret_basic and client_secret_post at once: 400 invalid_request (RFC 6749 §2.3)', async () => {
    const res = await token()
      .set('Authorization', basic(clientId, clientSecret))
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    expectTokenError(res, 400, 'invalid_request');
  });

  test('Basic header plus only client_secret in the body is also two methods: 400 invalid_request', async () => {
    const res = await token().set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: 'client_credentials', client_secret: 'x' });
    expectTokenError(res, 400, 'invalid_request');
  });

  test('two Authorization headers (two clients\' Basic credentials): 400 invalid_request, not "the first one wins"', async () => {
    const other = await seedClient(server.auth, ['reports:read']);
    const res = await rawSocketRequest(
      server.app,
      [
        'POST /oauth/token HTTP/1.1',
        `Authorization: ${basic(clientId, clientSecret)}`,
        `Authorization: ${basic(other.clientId, other.clientSecret)}`,
        'Content-Type: application/x-www-form-urlencoded',
      ],
      GRANT,
    );
    expectTokenError(res, 400, 'invalid_request');
  });

  test('credentials in the query string are not read (RFC 6749 §2.3.1): 401 invalid_client', async () => {
    const res = await request(server.app)
      .post(`/oauth/token?client_id=${encodeURIComponent(clientId)}&client_secret=${encodeURIComponent(clientSecret)}`)
      .type('form')
      .send(GRANT);
    expectInvalidClient(res);
  });

  test.each([
    ['grant_type', `${GRANT}&${GRANT}`],
    ['scope', `${GRANT}&scope=reports:read&scope=reports:write`],
    ['client_id (post auth)', `${GRANT}&client_id=a&client_id=b&client_secret=x`],
    ['client_secret (post auth)', `${GRANT}&client_id=a&client_secret=x&client_secret=y`],
  ])('a repeated %s parameter: 400 invalid_request (RFC 6749 §3.2)', async (_label, body) => {
    const res = await token().set('Authorization', basic(clientId, clientSecret)).type('form').send(body);
    expectTokenError(res, 400, 'invalid_request');
  });

  test('missing grant_type: 400 invalid_request', async () => {
    expectTokenError(await token().set('Authorization', basic(clientId, clientSecret)).type('form').send('scope=reports:read'), 400, 'invalid_request');
  });

  test.each(['password', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'CLIENT_CREDENTIALS', 'client_credentials '])(
    'unknown grant_type %j: 400 unsupported_grant_type',
    async (grant) => {
      const res = await token().set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: grant });
      expectTokenError(res, 400, 'unsupported_grant_type');
    },
  );
});

describe('hostile bodies', () => {
  test('a JSON body: 400 invalid_request', async () => {
    const res = await token().set('Authorization', basic(clientId, clientSecret)).send({ grant_type: 'client_credentials' });
    expectTokenError(res, 400, 'invalid_request');
  });

  test('a multipart/form-data body: 400 invalid_request', async () => {
    const res = await token().set('Authorization', basic(clientId, clientSecret)).field('grant_type', 'client_credentials');
    expectTokenError(res, 400, 'invalid_request');
  });

  test('a body over maxBodyBytes (8192): 413 invalid_request', async () => {
    const res = await token()
      .set('Authorization', basic(clientId, clientSecret))
      .type('form')
      .send(`${GRANT}&pad=${'x'.repeat(8192)}`);
    expectTokenError(res, 413, 'invalid_request');
  });

  test('a Content-Length lying about a huge body is refused before reading it: 413 invalid_request', async () => {
    const res = await rawSocketRequest(server.app, [
      'POST /oauth/token HTTP/1.1',
      `Authorization: ${basic(clientId, clientSecret)}`,
      'Content-Type: application/x-www-form-urlencoded',
      'Content-Length: 1000000000',
    ]);
    expectTokenError(res, 413, 'invalid_request');
    expect(res.headers.connection).toBe('close');
  });

  test('a JSON body announced as a gigabyte is refused at once (400), not read to its end', async () => {
    const res = await rawSocketRequest(server.app, [
      'POST /oauth/token HTTP/1.1',
      `Authorization: ${basic(clientId, clientSecret)}`,
      'Content-Type: application/json',
      'Content-Length: 1000000000',
    ]);
    expectTokenError(res, 400, 'invalid_request');
    expect(res.headers.connection).toBe('close');
  });

  test('a prototype-pollution shaped body is just unknown parameters', async () => {
    const res = await token()
      .set('Authorization', basic(clientId, clientSecret))
      .type('form')
      .send(`${GRANT}&__proto__[scope]=admin&constructor[prototype][x]=1&hasOwnProperty=1`);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reports:read reports:write');
    expect(({} as Record<string, unknown>).scope).toBeUndefined();
  });
});

describe('hostile scopes (RFC 6749 §3.3): 400 invalid_scope', () => {
  test.each([
    ['a NUL byte', 'reports:read\u0000'],
    ['CR/LF (header injection shape)', 'reports:read\r\nX-Injected: 1'],
    ['a tab separator', 'reports:read\treports:write'],
    ['a double quote (forbidden %x22)', 'reports:"read"'],
    ['a backslash (forbidden %x5C)', 'reports:\\read'],
    ['unicode', 'réports:read'],
    ['an emoji', 'reports:read 🔥'],
    ['leading space', ' reports:read'],
    ['trailing space', 'reports:read '],
    ['two spaces', 'reports:read  reports:write'],
    ['a scope token over 128 characters', 'r'.repeat(129)],
    ['a scope the client does not hold', 'reports:admin'],
  ])('scope with %s', async (_label, scope) => {
    const res = await tokenRequest(server.app, clientId, clientSecret, { scope });
    expectTokenError(res, 400, 'invalid_scope');
  });

  test('a scope parameter over 2048 characters is invalid_scope (checked before parsing)', async () => {
    const scope = Array.from({ length: 300 }, () => 'reports:read').join(' ');
    expect(scope.length).toBeGreaterThan(2048);
    const res = await tokenRequest(server.app, clientId, clientSecret, { scope });
    expectTokenError(res, 400, 'invalid_scope');
    expect(res.body.error_description).toMatch(/2048/);
  });

  test('more than 64 distinct scopes is invalid_scope', async () => {
    const scope = Array.from({ length: 65 }, (_, i) => `s${i}`).join(' ');
    const res = await tokenRequest(server.app, clientId, clientSecret, { scope });
    expectTokenError(res, 400, 'invalid_scope');
    expect(res.body.error_description).toMatch(/64/);
  });

  test('duplicates are not an attack: "a a" is deduplicated and granted once', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret, { scope: 'reports:read reports:read reports:read' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reports:read');
  });

  test('an empty scope parameter counts as omitted (RFC 6749 §3.1): every allowed scope', async () => {
    const res = await token().set('Authorization', basic(clientId, clientSecret)).type('form').send(`${GRANT}&scope=`);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reports:read reports:write');
  });
});

describe('hostile client ids: 401 invalid_client, registry intact', () => {
  const ids = [
    "' OR 1=1 --",
    "x'; DROP TABLE clients; --",
    '" OR ""="',
    '%',
    '*',
    'é',
    'clïent-ümlaut',
    '中文客户端',
    '\u0000',
    '../../etc/passwd',
    `${'A'.repeat(300)}`,
  ];

  test.each(ids)('client_secret_basic with client id %j', async (id) => {
    expectInvalidClient(await tokenRequest(server.app, id, clientSecret));
  });

  test.each(ids)('client_secret_post with client id %j', async (id) => {
    const res = await token().type('form').send({ grant_type: 'client_credentials', client_id: id, client_secret: clientSecret });
    expectInvalidClient(res);
  });

  test('after the attacks the registry is intact: same clients, same group, the real client still works', async () => {
    const clients = await server.auth.registry.listClients();
    expect(clients.map((c) => c.clientId)).toContain(clientId);
    expect((await server.auth.registry.getGroup('reporting'))?.scopes).toEqual(['reports:read', 'reports:write']);
    expect(await getToken(server, clientId, clientSecret)).toMatch(/^ey/);
  });
});

describe('clients that must not get a token', () => {
  test('a disabled client with its correct secret: 401 invalid_client', async () => {
    const c = await seedClient(server.auth, ['reports:read']);
    await server.auth.registry.setClientEnabled(c.clientId, false);
    expectInvalidClient(await tokenRequest(server.app, c.clientId, c.clientSecret));
  });

  test('a client without the client_credentials grant: 400 unauthorized_client', async () => {
    const created = await server.auth.registry.createClient({ name: 'no grant', groups: ['reporting'], grantTypes: [] });
    const res = await tokenRequest(server.app, created.client.clientId, created.clientSecret as string);
    expectTokenError(res, 400, 'unauthorized_client');
  });

  test('a public client identifying itself with client_id only: 400 unauthorized_client', async () => {
    const pub = await server.auth.registry.createClient({ name: 'public app', type: 'public', groups: ['reporting'] });
    const res = await token().type('form').send({ grant_type: 'client_credentials', client_id: pub.client.clientId });
    expectTokenError(res, 400, 'unauthorized_client');
  });

  test('a public client presenting some secret: 401 invalid_client (it has none)', async () => {
    const pub = await server.auth.registry.createClient({ name: 'public app 2', type: 'public', groups: ['reporting'] });
    expectInvalidClient(await tokenRequest(server.app, pub.client.clientId, 'a-secret-it-never-had'));
  });

  test('a confidential client sending client_id without a secret: 401 invalid_client', async () => {
    const res = await token().type('form').send({ grant_type: 'client_credentials', client_id: clientId });
    expectInvalidClient(res);
  });
});

describe('requireHttps', () => {
  let secure: TestServer;
  let id: string;
  let secret: string;
  beforeAll(async () => {
    secure = createTestServer({ requireHttps: true });
    ({ clientId: id, clientSecret: secret } = await seedClient(secure.auth, ['reports:read']));
  });
  afterAll(() => secure.close());

  test('plain HTTP is refused with 400 invalid_request, before any authentication', async () => {
    expectTokenError(await tokenRequest(secure.app, id, secret), 400, 'invalid_request');
  });

  test('X-Forwarded-Proto: https is ignored unless trust proxy is set', async () => {
    const res = await tokenRequest(secure.app, id, secret).set('X-Forwarded-Proto', 'https');
    expectTokenError(res, 400, 'invalid_request');
  });

  test('with trust proxy, X-Forwarded-Proto: https from the proxy is accepted', async () => {
    secure.app.set('trust proxy', true);
    try {
      const ok = await tokenRequest(secure.app, id, secret).set('X-Forwarded-Proto', 'https');
      expect(ok.status).toBe(200);
      expect(ok.body.token_type).toBe('Bearer');
      expectTokenError(await tokenRequest(secure.app, id, secret).set('X-Forwarded-Proto', 'http'), 400, 'invalid_request');
      expectTokenError(await tokenRequest(secure.app, id, secret), 400, 'invalid_request');
    } finally {
      secure.app.set('trust proxy', false);
    }
  });
});

describe('revocation abuse (RFC 7009)', () => {
  test("a client cannot revoke another client's token: 400 unauthorized_client, the token stays valid", async () => {
    const victimToken = await getToken(server, clientId, clientSecret);
    const attacker = await seedClient(server.auth, ['reports:read']);
    const res = await request(server.app)
      .post('/oauth/revoke')
      .set('Authorization', basic(attacker.clientId, attacker.clientSecret))
      .type('form')
      .send({ token: victimToken });
    expectTokenError(res, 400, 'unauthorized_client');
    expect((await bearerGet(server.app, victimToken)).status).toBe(200);
  });

  test('revocation without client authentication: 401 invalid_client', async () => {
    const t = await getToken(server, clientId, clientSecret);
    expectInvalidClient(await request(server.app).post('/oauth/revoke').type('form').send({ token: t }));
    expect((await bearerGet(server.app, t)).status).toBe(200);
  });

  test('a garbage token is a 200 (RFC 7009 §2.2), with or without a refresh_token hint (§2.1: a hint is only a hint)', async () => {
    const garbage = await request(server.app)
      .post('/oauth/revoke')
      .set('Authorization', basic(clientId, clientSecret))
      .type('form')
      .send({ token: 'x'.repeat(5000) });
    expect(garbage.status).toBe(200);
    const hint = await request(server.app)
      .post('/oauth/revoke')
      .set('Authorization', basic(clientId, clientSecret))
      .type('form')
      .send({ token: 'abc', token_type_hint: 'refresh_token' });
    expect(hint.status).toBe(200);
  });
});

describe('an app-wide body parser mounted before the token router', () => {
  const appWith = (parser: express.RequestHandler): express.Express => {
    const app = express();
    app.use(parser);
    app.use('/oauth', server.auth.tokenRouter());
    return app;
  };

  test.each([
    ['express.urlencoded({ extended: false })', express.urlencoded({ extended: false })],
    ['express.urlencoded({ extended: true })', express.urlencoded({ extended: true })],
    ['express.raw({ type: "*/*" })', express.raw({ type: '*/*' })],
    ['express.text({ type: "*/*" })', express.text({ type: '*/*' })],
  ])('%s: requests still work, and repeated parameters are still invalid_request', async (_label, parser) => {
    const app = appWith(parser);
    const ok = await tokenRequest(app, clientId, clientSecret, { scope: 'reports:read' });
    expect({ status: ok.status, scope: ok.body.scope }).toEqual({ status: 200, scope: 'reports:read' });
    const repeated = await request(app)
      .post('/oauth/token')
      .set('Authorization', basic(clientId, clientSecret))
      .type('form')
      .send(`${GRANT}&scope=reports:read&scope=reports:write`);
    expectTokenError(repeated, 400, 'invalid_request');
  });

  test('nested parameters from the extended parser (scope[a]=b) are invalid_request, not a 500', async () => {
    const app = appWith(express.urlencoded({ extended: true }));
    const res = await request(app).post('/oauth/token').set('Authorization', basic(clientId, clientSecret)).type('form').send(`${GRANT}&scope[x]=reports:read`);
    expectTokenError(res, 400, 'invalid_request');
  });
});
