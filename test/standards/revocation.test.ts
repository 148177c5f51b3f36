/** RFC 7009 token revocation at <mount>/revoke, against a real issuer on loopback. */
import express from 'express';
import { ccgate } from '../../lib';
import { API_AUDIENCE } from '../support/constants';
import { httpRequest, listen } from '../support/http';
import { callApi, introspect, issueToken, postForm, revoke } from '../support/oauth';
import { claimsFrom, decodeJwt, foreignKey, signJws } from '../support/jwt';
import { seedClient, type SeededClient } from '../support/clients';
import { startIssuer, type TestIssuer } from '../support/servers';

describe('RFC 7009 token revocation', () => {
  let issuer: TestIssuer;
  let owner: SeededClient;
  let other: SeededClient;
  let local: string;
  beforeAll(async () => {
    issuer = await startIssuer();
    owner = await seedClient(issuer.auth, ['reports:read']);
    other = await seedClient(issuer.auth, ['reports:read', 'ccgate:introspect']);
    local = `${issuer.origin}/local/reports`;
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('§2.1 / §2.2: a client revokes its own token: 200, and the local guard rejects it on the next request', async () => {
    const token = await issueToken(issuer, owner);
    expect((await callApi(local, token)).status).toBe(200);
    const res = await revoke(issuer, owner, { token });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const after = await callApi(local, token);
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  test('a revocation outlives its token by the clock tolerance: pruned at exp, the token would be accepted at exp + 2 s', async () => {
    const token = await issueToken(issuer, owner);
    const exp = decodeJwt(token).payload.exp as number;
    expect((await revoke(issuer, owner, { token })).status).toBe(200);
    const spy = jest.spyOn(Date, 'now').mockImplementation(() => (exp + 2) * 1000);
    try {
      // The prune pass the registry runs on a timer, at exp + 2 s: within the 5 s the guard still allows.
      await issuer.auth.registry.pruneExpired();
      const res = await callApi(local, token);
      expect(res.status).toBe(401);
      expect(res.json().error_description).toBe('The access token was revoked.');
    } finally {
      spy.mockRestore();
    }
  });

  test('§2.1: client_secret_post works too (for a client registered with it); a sibling token of the same client stays valid', async () => {
    const poster = await seedClient(issuer.auth, ['reports:read'], { authMethod: 'client_secret_post' });
    const a = await issueToken(issuer, poster);
    const b = await issueToken(issuer, poster);
    expect((await revoke(issuer, poster, { token: a })).status).toBe(200);
    expect((await callApi(local, a)).status).toBe(401);
    expect((await callApi(local, b)).status).toBe(200);
  });

  test('§2.2: revoking twice, or an unknown / garbage / foreign token, is still 200', async () => {
    const token = await issueToken(issuer, owner);
    expect((await revoke(issuer, owner, { token })).status).toBe(200);
    expect((await revoke(issuer, owner, { token })).status).toBe(200);
    const attacker = foreignKey();
    const foreign = signJws(attacker.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: 'nope' }, claimsFrom(issuer.issuer, owner.clientId));
    for (const garbage of ['garbage', 'a.b.c', 'x'.repeat(5000), foreign]) {
      const res = await revoke(issuer, owner, { token: garbage });
      expect({ status: res.status, body: res.text }).toEqual({ status: 200, body: '' });
    }
  });

  test('§2.1: token_type_hint access_token and unknown hints are accepted', async () => {
    for (const hint of ['access_token', 'whatever']) {
      const token = await issueToken(issuer, owner);
      expect((await revoke(issuer, owner, { token, token_type_hint: hint })).status).toBe(200);
      expect((await callApi(local, token)).status).toBe(401);
    }
  });

  test('§2.1: a wrong token_type_hint (refresh_token) does not stop the search: the access token is revoked', async () => {
    const token = await issueToken(issuer, owner);
    expect((await callApi(local, token)).status).toBe(200);
    const res = await revoke(issuer, owner, { token, token_type_hint: 'refresh_token' });
    expect(res.status).toBe(200);
    expect((await callApi(local, token)).status).toBe(401);
  });

  test("§2.1: a client cannot revoke another client's token (refused; the token stays valid)", async () => {
    const token = await issueToken(issuer, owner);
    const res = await revoke(issuer, other, { token });
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('unauthorized_client');
    expect((await callApi(local, token)).status).toBe(200);
    expect((await introspect(issuer, owner, { token })).json().active).toBe(true);
  });

  test('§2.1: the token parameter is required: invalid_request', async () => {
    const res = await revoke(issuer, owner, {});
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('invalid_request');
  });

  test('§2.1: the caller must authenticate: none or a wrong secret is 401 invalid_client, and nothing is revoked', async () => {
    const token = await issueToken(issuer, owner);
    const none = await postForm(`${issuer.endpoints}/revoke`, null, { token });
    expect(none.status).toBe(401);
    expect(none.json().error).toBe('invalid_client');
    const wrong = await revoke(issuer, { clientId: owner.clientId, clientSecret: 'definitely-not-the-secret' }, { token });
    expect(wrong.status).toBe(401);
    expect((await callApi(local, token)).status).toBe(200);
  });

  test('§2: POST only (GET is 405 with Allow: POST)', async () => {
    const res = await httpRequest(`${issuer.endpoints}/revoke`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  test('§2.2: after revocation, introspection says {active:false} to the owner and to a resource server', async () => {
    const token = await issueToken(issuer, owner);
    await revoke(issuer, owner, { token });
    expect((await introspect(issuer, owner, { token })).json()).toEqual({ active: false });
    expect((await introspect(issuer, other, { token })).json()).toEqual({ active: false });
  });

  test('a revocation is seen at once by another ccgate instance on the same SQLite file (even with the token cached there)', async () => {
    const token = await issueToken(issuer, owner);
    const twin = ccgate({ db: issuer.dbPath, issuer: issuer.issuer, audience: API_AUDIENCE, bcryptCost: 4, bcryptWorkers: 1 });
    const app = express();
    app.get('/reports', twin.requireScope('reports:read'), (_req, res) => res.json({ ok: true }));
    const server = await listen(app);
    try {
      expect((await callApi(`${server.origin}/reports`, token)).status).toBe(200); // now in its verified-token cache
      expect((await revoke(issuer, owner, { token })).status).toBe(200);
      expect((await callApi(`${server.origin}/reports`, token)).status).toBe(401);
    } finally {
      await server.stop();
      await twin.close();
    }
  });
});
