/**
 * The guard's answer from memory: a token seen before (verified-cache hit, key still published,
 * status remembered at the registry's current version) is settled synchronously. Every answer must
 * be the one the full path gives, refusals included, and a change committed by another process is
 * seen by the very next request.
 */
import Database from 'better-sqlite3';
import express from 'express';
import request from 'supertest';
import type { KeyRecord } from '../../lib';
import { bearerGet, getToken, parseChallenge } from '../support/oauth';
import { claimsFor, signJws } from '../support/jwt';
import { seedClient } from '../support/clients';
import { parseScrape } from '../support/metrics';
import { createTestServer, type TestServer } from '../support/servers';
import { SqliteChangeFeed } from '../../lib/registry/sqlite/change-feed';

let server: TestServer;
let clientId: string;
let clientSecret: string;
let rsKey: KeyRecord;
beforeAll(async () => {
  server = createTestServer();
  ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read', 'reports:write']));
  await getToken(server, clientId, clientSecret); // loads the signing key
  rsKey = (await server.auth.registry.listKeys()).find((k) => k.alg === 'RS256' && k.status === 'active')!;
});
afterAll(() => server.close());

const sign = (overrides: Record<string, unknown> = {}) =>
  signJws(rsKey.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: rsKey.kid }, claimsFor(clientId, overrides));

/** Two requests with `token`: the first goes the full way (and fills the caches), the second is answered from memory. */
async function twice(token: string, path = '/api/reports', extra: (r: request.Test) => request.Test = (r) => r) {
  const first = await extra(request(server.app).get(path).set('Authorization', `Bearer ${token}`));
  const second = await extra(request(server.app).get(path).set('Authorization', `Bearer ${token}`));
  return [first, second];
}

const answer = (res: request.Response) => ({ status: res.status, body: res.body, challenge: res.headers['www-authenticate'] });

test('a token seen before gets the same req.auth as on first sight, and each request its own scopes list', async () => {
  const app = express();
  const seen: unknown[] = [];
  app.get('/r', server.auth.requireScope('reports:read'), (req, res) => {
    seen.push(structuredClone(req.auth));
    req.auth?.scopes.push('tampered'); // a handler changing its list must not change the next request's
    res.json({ ok: true });
  });
  const token = sign({ scope: 'reports:read reports:write' });
  for (let i = 0; i < 3; i++) expect((await bearerGet(app, token, '/r')).status).toBe(200);
  expect(seen[1]).toEqual(seen[0]);
  expect(seen[2]).toEqual(seen[0]);
  expect((seen[0] as { scopes: string[] }).scopes).toEqual(['reports:read', 'reports:write']);
});

test('RFC 6750 §3.1: insufficient_scope from memory is the same answer as on first sight', async () => {
  const token = sign({ scope: 'reports:read' });
  const [first, second] = await twice(token, '/api/reports', (r) => r);
  expect(first.status).toBe(200);
  const post = async () => answer(await request(server.app).post('/api/reports').set('Authorization', `Bearer ${token}`));
  const refused = await post();
  expect(refused.status).toBe(403);
  expect(await post()).toEqual(refused);
  expect(second.status).toBe(200);
});

test('RFC 6750 §3.1: a known token also sent in the query string is still 400 invalid_request', async () => {
  const token = sign();
  expect((await bearerGet(server.app, token)).status).toBe(200);
  const res = await request(server.app).get(`/api/reports?access_token=${token}`).set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_request');
  expect(res.body.error_description).toMatch(/more than one way/);
});

test('RFC 9449 §7.1: a DPoP-bound token presented as Bearer is refused from memory too, with the same answer', async () => {
  const token = sign({ cnf: { jkt: 'A'.repeat(43) } });
  const [first, second] = await twice(token);
  expect(first.status).toBe(401);
  expect(parseChallenge(first.headers['www-authenticate']).params.error).toBe('invalid_token');
  expect(answer(second)).toEqual(answer(first));
});

test('RFC 9449 §7.1: where DPoP is required, a known bearer token is refused every time', async () => {
  const strict = createTestServer({ guardDpop: { required: true } });
  try {
    const c = await seedClient(strict.auth, ['reports:read']);
    const token = await getToken(strict, c.clientId, c.clientSecret);
    const first = await bearerGet(strict.app, token);
    const second = await bearerGet(strict.app, token);
    expect(first.status).toBe(401);
    expect(answer(second)).toEqual(answer(first));
  } finally {
    await strict.close();
  }
});

test('a revocation and a disable committed by another connection are seen by the very next request, with both caches warm', async () => {
  const c = await seedClient(server.auth, ['reports:read']);
  const token = await getToken(server, c.clientId, c.clientSecret);
  const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti as string;
  for (let i = 0; i < 3; i++) expect((await bearerGet(server.app, token)).status).toBe(200);
  // Another process's commit, as the CLI makes it: a connection of its own to the same file.
  const other = new Database(server.dbPath);
  try {
    other.prepare('INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)').run(jti, c.clientId, 4_000_000_000, 1);
    const revoked = await bearerGet(server.app, token);
    expect(revoked.status).toBe(401);
    expect(revoked.body.error_description).toMatch(/revoked/);

    const token2 = await getToken(server, c.clientId, c.clientSecret);
    for (let i = 0; i < 3; i++) expect((await bearerGet(server.app, token2)).status).toBe(200);
    other.prepare('UPDATE clients SET enabled = 0 WHERE client_id = ?').run(c.clientId);
    const disabled = await bearerGet(server.app, token2);
    expect(disabled.status).toBe(401);
    expect(disabled.body.error_description).toMatch(/disabled/);
    // Refusals are remembered too, and answered the same.
    expect(answer(await bearerGet(server.app, token2))).toEqual(answer(disabled));
  } finally {
    other.close();
  }
});

test('a known token whose signing key was revoked is refused at the next request', async () => {
  const isolated = createTestServer();
  try {
    const c = await seedClient(isolated.auth, ['reports:read']);
    const token = await getToken(isolated, c.clientId, c.clientSecret);
    for (let i = 0; i < 2; i++) expect((await bearerGet(isolated.app, token)).status).toBe(200);
    const kid = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid as string;
    await isolated.auth.revokeKey(kid);
    const res = await bearerGet(isolated.app, token);
    expect(res.status).toBe(401);
  } finally {
    await isolated.close();
  }
});

test('a token answered from memory counts one verified-token hit, one token-status hit and one acceptance', async () => {
  const counted = createTestServer();
  try {
    const c = await seedClient(counted.auth, ['reports:read']);
    const token = await getToken(counted, c.clientId, c.clientSecret);
    const metricsApp = express().use(counted.auth.metricsRouter());
    const scrape = async () => parseScrape((await request(metricsApp).get('/metrics')).text);
    expect((await bearerGet(counted.app, token)).status).toBe(200); // first sight: a miss of each
    const before = await scrape();
    for (let i = 0; i < 3; i++) expect((await bearerGet(counted.app, token)).status).toBe(200);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => (after.value(name, labels) ?? NaN) - (before.value(name, labels) ?? NaN);
    expect(delta('ccgate_cache_hits_total', { cache: 'verified_tokens' })).toBe(3);
    expect(delta('ccgate_cache_misses_total', { cache: 'verified_tokens' })).toBe(0);
    expect(delta('ccgate_cache_hits_total', { cache: 'token_statuses' })).toBe(3);
    expect(delta('ccgate_cache_misses_total', { cache: 'token_statuses' })).toBe(0);
    expect(delta('ccgate_guard_decisions_total', { outcome: 'accepted', reason: 'none' })).toBe(3);
  } finally {
    await counted.close();
  }
});

test('the change feed is looked at once per request: for a token seen before, and on first sight (keys, cache and status at the same reading)', async () => {
  const looks = jest.spyOn(SqliteChangeFeed.prototype, 'current');
  try {
    const token = sign();
    looks.mockClear();
    expect((await bearerGet(server.app, token)).status).toBe(200);
    const firstSight = looks.mock.calls.length;
    looks.mockClear();
    expect((await bearerGet(server.app, token)).status).toBe(200);
    expect({ firstSight, seenBefore: looks.mock.calls.length }).toEqual({ firstSight: 1, seenBefore: 1 });
  } finally {
    looks.mockRestore();
  }
});
