/**
 * Audit events: every documented event fires with its documented fields and the request's id, and
 * no event ever carries a client secret or a whole access token (an event log is not a credential store).
 */
import request from 'supertest';
import type { AuditEvent } from '../../lib';
import { basic, bearerGet, expectThrottled, getToken, tokenRequest } from '../support/oauth';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';
import { EventLog } from '../support/events';
import { decodeJwt } from '../support/jwt';

let server: TestServer;
let log: EventLog;
let clientId: string;
let clientSecret: string;
/** Every secret and token the tests handled: none may appear in any event. */
const secrets: string[] = [];
const tokens: string[] = [];

const REQUEST_ID_SHAPE = /^[A-Za-z0-9._:-]{1,64}$/;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

beforeAll(async () => {
  server = createTestServer({ throttle: { maxFailuresPerClientAndAddress: 3, maxFailuresPerAddress: 1000, windowSeconds: 60, lockedDelayMs: 0 } });
  log = new EventLog(server.auth);
  ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read']));
  secrets.push(clientSecret);
});
afterAll(async () => {
  log.stop();
  await server.close();
});
beforeEach(() => log.clear());

function expectNoCredentials(event: AuditEvent): void {
  const text = JSON.stringify(event);
  for (const s of secrets) expect(text).not.toContain(s);
  for (const t of tokens) {
    expect(text).not.toContain(t);
    expect(text).not.toContain(t.split('.')[2]); // not even the signature
  }
}

/** All events seen across the file, for the final leak check. */
const everything: AuditEvent[] = [];
afterEach(() => everything.push(...log.events));

test("token.issued: clientId, scope, jti, expiresAt, address and the caller's X-Request-Id", async () => {
  const res = await tokenRequest(server.app, clientId, clientSecret).set('X-Request-Id', 'req-issue-1');
  expect(res.status).toBe(200);
  expect(res.headers['x-request-id']).toBe('req-issue-1');
  tokens.push(res.body.access_token);
  const claims = decodeJwt(res.body.access_token).payload;
  const [e] = log.ofType('token.issued');
  expect(e).toEqual({
    type: 'token.issued',
    time: expect.stringMatching(ISO_TIME),
    clientId,
    scope: 'reports:read',
    jti: claims.jti,
    expiresAt: claims.exp,
    address: expect.stringMatching(/127\.0\.0\.1/),
    requestId: 'req-issue-1',
  });
});

test.each([
  ['with a space', 'bad id'],
  ['too long', 'x'.repeat(65)],
  ['with a newline-ish control char', 'abc\tdef'],
  ['with a quote', 'a"b'],
])('an insane X-Request-Id (%s) is replaced by a generated one, echoed and used in the event', async (_label, id) => {
  const res = await tokenRequest(server.app, clientId, clientSecret).set('X-Request-Id', id);
  expect(res.status).toBe(200);
  tokens.push(res.body.access_token);
  const echoed = res.headers['x-request-id'];
  expect(echoed).not.toBe(id);
  expect(echoed).toMatch(REQUEST_ID_SHAPE);
  expect(log.ofType('token.issued')[0].requestId).toBe(echoed);
});

test('client.auth_failed: the attempted id, the method, the reason, never the secret', async () => {
  const attempted = 'wrong-secret-attempt-1234567890';
  secrets.push(attempted);
  const other = await seedClient(server.auth, ['reports:read']);
  secrets.push(other.clientSecret);
  const res = await tokenRequest(server.app, other.clientId, attempted).set('X-Request-Id', 'req-fail-1');
  expect(res.status).toBe(401);
  expect(log.ofType('client.auth_failed')).toEqual([
    {
      type: 'client.auth_failed',
      time: expect.stringMatching(ISO_TIME),
      clientId: other.clientId,
      method: 'client_secret_basic',
      reason: 'invalid_credentials',
      detail: 'wrong_secret',
      address: expect.any(String),
      requestId: 'req-fail-1',
    },
  ]);

  log.clear();
  await request(server.app).post('/oauth/token').type('form').send('grant_type=client_credentials').set('X-Request-Id', 'req-fail-2');
  expect(log.ofType('client.auth_failed')).toEqual([expect.objectContaining({ clientId: null, method: 'none', reason: 'missing', requestId: 'req-fail-2' })]);

  log.clear();
  await request(server.app).post('/oauth/token').set('Authorization', 'Basic !!!').type('form').send('grant_type=client_credentials');
  expect(log.ofType('client.auth_failed')).toEqual([expect.objectContaining({ clientId: null, method: 'client_secret_basic', reason: 'malformed' })]);

  log.clear();
  await request(server.app).post('/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: other.clientId, client_secret: attempted });
  expect(log.ofType('client.auth_failed')).toEqual([
    // Its secret, but by a method not its own (RFC 6749 §2.3): refused, and the audit event says why.
    expect.objectContaining({ clientId: other.clientId, method: 'client_secret_post', reason: 'invalid_credentials', detail: 'wrong_method' }),
  ]);
});

test('client.throttled: clientId, retryAfter, address, requestId once the lock engages (and no client.auth_failed for that request)', async () => {
  const victim = await seedClient(server.auth, ['reports:read']);
  secrets.push(victim.clientSecret);
  for (let i = 0; i < 3; i++) await tokenRequest(server.app, victim.clientId, `guess-guess-guess-${i}`);
  expect(log.ofType('client.auth_failed')).toHaveLength(3);
  log.clear();
  // The right secret, never verified at this instance: refused like a guess from this address.
  const res = await tokenRequest(server.app, victim.clientId, victim.clientSecret).set('X-Request-Id', 'req-throttle-1');
  const retryAfter = expectThrottled(res, 60);
  expect(log.ofType('client.auth_failed')).toEqual([]);
  expect(log.ofType('client.throttled')).toEqual([
    {
      type: 'client.throttled',
      time: expect.stringMatching(ISO_TIME),
      clientId: victim.clientId,
      retryAfter,
      address: expect.any(String),
      requestId: 'req-throttle-1',
    },
  ]);
});

test('scope.denied at the token endpoint: clientId, the requested scope, where, requestId', async () => {
  const res = await tokenRequest(server.app, clientId, clientSecret, { scope: 'reports:read admin:all' }).set('X-Request-Id', 'req-scope-1');
  expect(res.status).toBe(400);
  expect(log.ofType('scope.denied')).toEqual([
    {
      type: 'scope.denied',
      time: expect.stringMatching(ISO_TIME),
      clientId,
      requested: 'reports:read admin:all',
      where: 'token_endpoint',
      requestId: 'req-scope-1',
    },
  ]);
});

test("scope.denied in the guard: clientId, the route's scope, where, requestId (the caller's, echoed)", async () => {
  const token = await getToken(server, clientId, clientSecret);
  tokens.push(token);
  log.clear();
  const res = await request(server.app).post('/api/reports').set('Authorization', `Bearer ${token}`).set('X-Request-Id', 'req-guard-scope');
  expect(res.status).toBe(403);
  expect(res.headers['x-request-id']).toBe('req-guard-scope');
  expect(log.ofType('scope.denied')).toEqual([
    {
      type: 'scope.denied',
      time: expect.stringMatching(ISO_TIME),
      clientId,
      requested: 'reports:write',
      where: 'guard',
      requestId: 'req-guard-scope',
    },
  ]);
});

test('token.rejected in the guard: the reason, where, and a generated requestId echoed to the caller', async () => {
  const token = await getToken(server, clientId, clientSecret);
  tokens.push(token);
  const tampered = `${token.slice(0, -4)}AAAA`;
  tokens.push(tampered);
  log.clear();
  const res = await bearerGet(server.app, tampered);
  expect(res.status).toBe(401);
  const [e] = log.ofType('token.rejected');
  expect(e).toEqual({
    type: 'token.rejected',
    time: expect.stringMatching(ISO_TIME),
    reason: 'bad_signature',
    where: 'guard',
    requestId: expect.stringMatching(REQUEST_ID_SHAPE),
  });
  expect(res.headers['x-request-id']).toBe(e.requestId);
});

test('token.revoked via POST /oauth/revoke: clientId, jti, via, requestId; then token.rejected for it', async () => {
  const token = await getToken(server, clientId, clientSecret);
  tokens.push(token);
  const jti = decodeJwt(token).payload.jti;
  log.clear();
  const res = await request(server.app)
    .post('/oauth/revoke')
    .set('Authorization', basic(clientId, clientSecret))
    .set('X-Request-Id', 'req-revoke-1')
    .type('form')
    .send({ token });
  expect(res.status).toBe(200);
  expect(log.ofType('token.revoked')).toEqual([
    { type: 'token.revoked', time: expect.stringMatching(ISO_TIME), clientId, jti, via: 'revocation_endpoint', requestId: 'req-revoke-1' },
  ]);
  const guarded = await bearerGet(server.app, token).set('X-Request-Id', 'req-after-revoke');
  expect(guarded.status).toBe(401);
  expect(log.ofType('token.rejected')).toEqual([expect.objectContaining({ reason: 'revoked', where: 'guard', requestId: 'req-after-revoke' })]);
});

test('token.introspected: callerId, active, jti (never the token)', async () => {
  const token = await getToken(server, clientId, clientSecret);
  tokens.push(token);
  const jti = decodeJwt(token).payload.jti;
  log.clear();
  const res = await request(server.app).post('/oauth/introspect').set('Authorization', basic(clientId, clientSecret)).type('form').send({ token });
  expect(res.body.active).toBe(true);
  expect(log.ofType('token.introspected')).toEqual([
    expect.objectContaining({ callerId: clientId, active: true, jti, requestId: expect.stringMatching(REQUEST_ID_SHAPE) }),
  ]);
});

test('secret.rotated: clientId and overlapSeconds, never the old or new secret', async () => {
  const c = await seedClient(server.auth, ['reports:read']);
  secrets.push(c.clientSecret);
  const rotated = await server.auth.rotateClientSecret(c.clientId, { overlapSeconds: 30 });
  secrets.push(rotated.clientSecret as string);
  expect(log.ofType('secret.rotated')).toEqual([{ type: 'secret.rotated', time: expect.stringMatching(ISO_TIME), clientId: c.clientId, overlapSeconds: 30 }]);
});

test('key.rotated: kid, alg, activatesAt (and never the private key)', async () => {
  const key = await server.auth.rotateKey({ leadSeconds: 600 });
  expect(log.ofType('key.rotated')).toEqual([
    { type: 'key.rotated', time: expect.stringMatching(ISO_TIME), kid: key.kid, alg: 'RS256', activatesAt: key.activatesAt },
  ]);
  expect(JSON.stringify(log.events)).not.toContain('PRIVATE KEY');
  expect(JSON.stringify(log.events)).not.toContain(key.privateKeyPem.split('\n')[1]);
});

test('a throwing audit listener does not break the request', async () => {
  const boom = (): void => {
    throw new Error('sink down');
  };
  server.auth.events.on('*', boom);
  try {
    const res = await tokenRequest(server.app, clientId, clientSecret);
    expect(res.status).toBe(200);
    tokens.push(res.body.access_token);
  } finally {
    server.auth.events.off('*', boom);
  }
});

test('no event of this whole file contains a client secret, an access token or a token signature', () => {
  expect(everything.length).toBeGreaterThan(15);
  expect(secrets.length).toBeGreaterThan(4);
  expect(tokens.length).toBeGreaterThan(4);
  for (const e of everything) expectNoCredentials(e);
  const types = new Set(everything.map((e) => e.type));
  for (const t of [
    'token.issued',
    'client.auth_failed',
    'client.throttled',
    'scope.denied',
    'token.revoked',
    'token.rejected',
    'secret.rotated',
    'key.rotated',
  ]) {
    expect(types).toContain(t);
  }
});
