/**
 * auth.metrics over real HTTP: after some traffic, GET /metrics exposes every family with the right
 * labels and counts. One issuer on a SQLite file takes the traffic; one on a PostgreSQL URL whose
 * port is closed shows the registry errors.
 */
import express from 'express';
import { ccgate, type Ccgate } from '../../lib';
import { closedPort } from '../support/postgres';
import { listen, type Listening } from '../support/http';
import { basic, callApi, issueToken, postForm } from '../support/oauth';
import { seedClient, type SeededClient } from '../support/clients';
import { decodeJwt, foreignKey, forge } from '../support/jwt';
import { startIssuer, type TestIssuer } from '../support/servers';
import { scrape, type Scrape } from '../support/metrics';
import { API_AUDIENCE } from '../support/constants';

const LATENCY_BUCKETS = ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '+Inf'];

describe('GET /metrics after traffic', () => {
  let issuer: TestIssuer;
  let reader: SeededClient;
  let second: SeededClient;
  let third: SeededClient;
  let writer: SeededClient;
  let m: Scrape;

  /** The traffic every test below reads the counts of. */
  async function traffic(): Promise<void> {
    const reports = `${issuer.origin}/local/reports`;
    // Three tokens for one client (the same secret: the first is bcrypt, later ones the remembered HMAC), one each for three more.
    const token = await issueToken(issuer, reader);
    await issueToken(issuer, reader);
    await issueToken(issuer, reader);
    const revoked = await issueToken(issuer, second);
    await issueToken(issuer, third);
    const narrow = await issueToken(issuer, writer);
    // Guard: accepted twice (the second from the verified-token cache), then each kind of refusal.
    expect((await callApi(reports, token)).status).toBe(200);
    expect((await callApi(reports, token)).status).toBe(200);
    expect((await callApi(reports)).status).toBe(401);
    expect((await callApi(`${reports}?access_token=x`)).status).toBe(400);
    expect((await callApi(reports, 'not-a-jwt')).status).toBe(401);
    expect((await callApi(reports, narrow)).status).toBe(403);
    const { payload } = decodeJwt(revoked);
    await issuer.auth.registry.revokeToken({ jti: payload.jti, clientId: second.clientId, expiresAt: payload.exp });
    expect((await callApi(reports, revoked)).status).toBe(401);
    // Client authentication failures: a wrong secret, none at all, two methods at once.
    const token_ = `${issuer.endpoints}/token`;
    const grant = { grant_type: 'client_credentials' };
    expect((await postForm(token_, { ...reader, clientSecret: 'wrong' }, grant)).status).toBe(401);
    expect((await postForm(token_, null, grant)).status).toBe(401);
    const both = await fetch(token_, {
      method: 'POST',
      headers: { Authorization: basic(reader.clientId, reader.clientSecret), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...grant, client_id: reader.clientId }).toString(),
    });
    expect(both.status).toBe(400);
    // The throttle: two wrong secrets for one client from this address lock the pair; the third is throttled.
    for (let i = 0; i < 2; i++) expect((await postForm(token_, { ...third, clientSecret: 'wrong' }, grant)).status).toBe(401);
    const locked = await postForm(token_, { ...third, clientSecret: 'wrong' }, grant);
    expect(locked.headers.get('retry-after')).not.toBeNull();
  }

  beforeAll(async () => {
    issuer = await startIssuer({ metricsClientLabels: 2, throttle: { maxFailuresPerClientAndAddress: 2, lockedDelayMs: 10 } });
    issuer.app.use(issuer.auth.metricsRouter());
    reader = await seedClient(issuer.auth);
    second = await seedClient(issuer.auth);
    third = await seedClient(issuer.auth);
    writer = await seedClient(issuer.auth, ['reports:write']);
    await traffic();
    m = await scrape(issuer.origin);
  });
  afterAll(() => issuer.close());

  test('each family is declared with its Prometheus type', () => {
    expect(Object.fromEntries([...m.types].filter(([name]) => name.startsWith('ccgate_')))).toEqual({
      ccgate_tokens_issued_total: 'counter',
      ccgate_tokens_issued_by_client_total: 'counter',
      ccgate_client_auth_failures_total: 'counter',
      ccgate_throttled_total: 'counter',
      ccgate_guard_decisions_total: 'counter',
      ccgate_registry_errors_total: 'counter',
      ccgate_token_endpoint_duration_seconds: 'histogram',
      ccgate_bcrypt_queue_wait_seconds: 'histogram',
      ccgate_cache_hits_total: 'counter',
      ccgate_cache_misses_total: 'counter',
      ccgate_bcrypt_queue_depth: 'gauge',
      ccgate_signing_key_age_seconds: 'gauge',
      ccgate_signing_keys: 'gauge',
    });
  });

  test('tokens issued: by algorithm, and by client with the first clients labelled and the rest as "other"', () => {
    expect(m.value('ccgate_tokens_issued_total', { alg: 'RS256' })).toBe(6);
    expect(m.value('ccgate_tokens_issued_total', { alg: 'ES256' })).toBe(0);
    const byClient = Object.fromEntries(m.all('ccgate_tokens_issued_by_client_total').map((s) => [s.labels.client_id, s.value]));
    expect(byClient).toEqual({ [reader.clientId]: 3, [second.clientId]: 1, other: 2 });
  });

  test('client authentication failures by reason, and throttled answers', () => {
    expect(m.value('ccgate_client_auth_failures_total', { reason: 'invalid_credentials' })).toBe(3);
    expect(m.value('ccgate_client_auth_failures_total', { reason: 'missing' })).toBe(1);
    expect(m.value('ccgate_client_auth_failures_total', { reason: 'malformed' })).toBe(1);
    expect(m.value('ccgate_throttled_total')).toBe(1);
  });

  test('guard decisions by outcome and reason, every reason shown (0 when never seen)', () => {
    const decision = (outcome: string, reason: string) => m.value('ccgate_guard_decisions_total', { outcome, reason });
    expect(decision('accepted', 'none')).toBe(2);
    expect(decision('rejected', 'missing_token')).toBe(1);
    expect(decision('rejected', 'invalid_request')).toBe(1);
    expect(decision('rejected', 'malformed')).toBe(1);
    expect(decision('rejected', 'revoked')).toBe(1);
    expect(decision('forbidden', 'insufficient_scope')).toBe(1);
    expect(decision('rejected', 'expired')).toBe(0);
    expect(decision('unavailable', 'registry_unavailable')).toBe(0);
    expect(decision('error', 'server_error')).toBe(0);
  });

  test('token endpoint latency: a histogram per status, with every bucket, cumulative up to the count', () => {
    for (const code of ['200', '401', '400']) {
      const buckets = m.all('ccgate_token_endpoint_duration_seconds_bucket', { code });
      expect(buckets.map((b) => b.labels.le)).toEqual(LATENCY_BUCKETS);
      const counts = buckets.map((b) => b.value);
      expect([...counts].sort((a, b) => a - b)).toEqual(counts);
      expect(counts.at(-1)).toBe(m.value('ccgate_token_endpoint_duration_seconds_count', { code }));
    }
    expect(m.value('ccgate_token_endpoint_duration_seconds_count', { code: '200' })).toBe(6);
    // Four refusals answered 401 (three wrong secrets and no credentials), the throttled one too.
    expect(m.value('ccgate_token_endpoint_duration_seconds_count', { code: '401' })).toBe(5);
    expect(m.value('ccgate_token_endpoint_duration_seconds_sum', { code: '200' })).toBeGreaterThan(0);
  });

  test('bcrypt: queue depth now, and the wait of every check that ran', () => {
    expect(m.value('ccgate_bcrypt_queue_depth')).toBe(0);
    // bcrypt ran for each client's first secret and for every wrong one: at least 4 + 3.
    expect(m.value('ccgate_bcrypt_queue_wait_seconds_count')).toBeGreaterThanOrEqual(7);
  });

  test('cache hits and misses of each cache', () => {
    const hits = (cache: string) => m.value('ccgate_cache_hits_total', { cache });
    const misses = (cache: string) => m.value('ccgate_cache_misses_total', { cache });
    expect(hits('verified_tokens')).toBe(1);
    expect(misses('verified_tokens')).toBe(4); // every other token the guard read (the query-string one never got that far)
    expect(hits('secrets')).toBe(2); // the reader's second and third token
    expect(misses('secrets')).toBeGreaterThanOrEqual(4);
    expect(hits('token_statuses')).toBeGreaterThanOrEqual(1);
    expect(hits('client_credentials')).toBeGreaterThanOrEqual(1);
    expect(misses('client_credentials')).toBeGreaterThanOrEqual(1);
  });

  test('signing keys: the active key of each algorithm and its age, read at scrape time', () => {
    const age = m.value('ccgate_signing_key_age_seconds', { alg: 'RS256' });
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(120);
    expect(m.value('ccgate_signing_keys', { alg: 'RS256', status: 'active' })).toBe(1);
  });

  test('no registry error while the database answers', () => {
    expect(m.all('ccgate_registry_errors_total')).toEqual([]);
  });
});

describe('GET /metrics while the database is unreachable (PostgreSQL URL on a closed port)', () => {
  let auth: Ccgate;
  let server: Listening;
  const faults: unknown[] = [];

  beforeAll(async () => {
    auth = ccgate({
      db: `postgres://127.0.0.1:${await closedPort()}/none`,
      issuer: 'http://127.0.0.1',
      audience: API_AUDIENCE,
      onServerError: (e) => faults.push(e),
    });
    const app = express();
    app.use('/oauth', auth.tokenRouter());
    app.get('/reports', auth.requireScope('reports:read'), (_req, res) => res.json({}));
    app.use(auth.metricsRouter());
    server = await listen(app);
  });
  afterAll(async () => {
    await server.stop();
    await auth.close();
  });

  test('failed storage calls counted by operation as "unavailable"; the guard answers 503 and counts it; the key gauges are absent', async () => {
    const token = await postForm(`${server.origin}/oauth/token`, { clientId: 'someone', clientSecret: 'secret' }, { grant_type: 'client_credentials' });
    expect(token.status).toBe(503);
    const forged = forge({ kid: 'some-kid', privateKeyPem: foreignKey().privateKeyPem }, { sub: 'x' });
    expect((await callApi(`${server.origin}/reports`, forged)).status).toBe(503);
    const m = await scrape(server.origin);
    expect(m.value('ccgate_registry_errors_total', { operation: 'clients.credentials', kind: 'unavailable' })).toBeGreaterThanOrEqual(1);
    expect(m.value('ccgate_registry_errors_total', { operation: 'keys.list', kind: 'unavailable' })).toBeGreaterThanOrEqual(1);
    expect(m.all('ccgate_registry_errors_total', { kind: 'fault' })).toEqual([]);
    expect(m.value('ccgate_guard_decisions_total', { outcome: 'unavailable', reason: 'registry_unavailable' })).toBe(1);
    expect(m.value('ccgate_token_endpoint_duration_seconds_count', { code: '503' })).toBe(1);
    expect(m.all('ccgate_signing_key_age_seconds')).toEqual([]);
    // Its own registry: the other instance's tokens are not counted here.
    expect(m.value('ccgate_tokens_issued_total', { alg: 'RS256' })).toBe(0);
    // The signing key made at startup failed too: reported, and left to the first token.
    expect(faults.length).toBeGreaterThanOrEqual(1);
  });
});
