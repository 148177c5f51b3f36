/** RFC 7662 token introspection at <mount>/introspect, against a real issuer on loopback. */
import { API_AUDIENCE } from '../support/constants';
import { sleep } from '../support/time';
import { httpRequest } from '../support/http';
import { introspect, issueToken, postForm } from '../support/oauth';
import { claimsFrom, decodeJwt, foreignKey, signJws } from '../support/jwt';
import { seedClient, type SeededClient } from '../support/clients';
import { startIssuer, type TestIssuer } from '../support/servers';

describe('RFC 7662 token introspection', () => {
  let issuer: TestIssuer;
  let owner: SeededClient;
  let other: SeededClient;
  let resourceServer: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer();
    owner = await seedClient(issuer.auth, ['reports:read', 'reports:write']);
    other = await seedClient(issuer.auth, ['reports:read']);
    resourceServer = await seedClient(issuer.auth, ['ccgate:introspect']);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('§2.2: an active token of the caller itself: active true with its claims', async () => {
    const token = await issueToken(issuer, owner, 'reports:read');
    const { payload } = decodeJwt(token);
    const res = await introspect(issuer, owner, { token });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      active: true,
      scope: 'reports:read',
      client_id: owner.clientId,
      sub: owner.clientId,
      aud: API_AUDIENCE,
      iss: issuer.issuer,
      exp: payload.exp,
      iat: payload.iat,
      jti: payload.jti,
      token_type: 'Bearer',
    });
  });

  test('§2.1: client_secret_post authenticates the caller as well as client_secret_basic (each client by its own method)', async () => {
    const poster = await seedClient(issuer.auth, ['reports:read'], { authMethod: 'client_secret_post' });
    const token = await issueToken(issuer, poster);
    const res = await introspect(issuer, poster, { token });
    expect(res.json()).toMatchObject({ active: true, client_id: poster.clientId });
    expect((await introspect(issuer, { ...owner, method: 'post' }, { token: await issueToken(issuer, owner) })).status).toBe(401);
  });

  test('§2.1: token_type_hint is only a hint (access_token, refresh_token, unknown values)', async () => {
    const token = await issueToken(issuer, owner);
    for (const hint of ['access_token', 'refresh_token', 'something_else']) {
      const res = await introspect(issuer, owner, { token, token_type_hint: hint });
      expect({ hint, status: res.status, active: res.json().active }).toEqual({ hint, status: 200, active: true });
    }
  });

  test("§4: another client's token is {active:false} to a caller without the introspection scope", async () => {
    const token = await issueToken(issuer, owner);
    const res = await introspect(issuer, other, { token });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ active: false });
  });

  test("§2.1: a caller with scope ccgate:introspect may introspect other clients' tokens", async () => {
    const token = await issueToken(issuer, owner);
    const res = await introspect(issuer, resourceServer, { token });
    expect(res.json()).toMatchObject({ active: true, client_id: owner.clientId, scope: 'reports:read reports:write' });
  });

  test('§2.2: a revoked token is {active:false}', async () => {
    const token = await issueToken(issuer, owner);
    expect((await postForm(`${issuer.endpoints}/revoke`, owner, { token })).status).toBe(200);
    expect((await introspect(issuer, owner, { token })).json()).toEqual({ active: false });
    expect((await introspect(issuer, resourceServer, { token })).json()).toEqual({ active: false });
  });

  test('§2.2: a malformed token is {active:false} (no error, no detail)', async () => {
    for (const token of ['garbage', 'a.b.c', 'x'.repeat(5000), ' ', 'eyJhbGciOiJub25lIn0.e30.', 'e30.e30.e30']) {
      const res = await introspect(issuer, resourceServer, { token });
      expect({ token: token.slice(0, 20), status: res.status, body: res.json() }).toEqual({ token: token.slice(0, 20), status: 200, body: { active: false } });
    }
  });

  test('§2.2: a token signed with a foreign key (unknown kid, or a known kid with a wrong signature) is {active:false}', async () => {
    const real = await issueToken(issuer, owner);
    const attacker = foreignKey();
    const claims = claimsFrom(issuer.issuer, owner.clientId);
    const unknownKid = signJws(attacker.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: 'attacker' }, claims);
    const stolenKid = signJws(attacker.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: decodeJwt(real).header.kid }, claims);
    for (const token of [unknownKid, stolenKid]) {
      expect((await introspect(issuer, resourceServer, { token })).json()).toEqual({ active: false });
    }
  });

  test('§2.2: a token from another issuer (wrong iss) is {active:false}', async () => {
    const elsewhere = await startIssuer();
    try {
      const stranger = await seedClient(elsewhere.auth);
      const token = await issueToken(elsewhere, stranger);
      expect((await introspect(issuer, resourceServer, { token })).json()).toEqual({ active: false });
    } finally {
      await elsewhere.close();
    }
  });

  test("§2.2 / RFC 9068 §4: signed with the issuer's own key but wrong iss, aud or typ: {active:false}", async () => {
    const real = await issueToken(issuer, owner);
    const kid = decodeJwt(real).header.kid as string;
    const key = (await issuer.auth.registry.listKeys()).find((k) => k.kid === kid)!;
    const header = { alg: 'RS256', typ: 'at+jwt', kid };
    const good = signJws(key.privateKeyPem, 'RS256', header, claimsFrom(issuer.issuer, owner.clientId));
    expect((await introspect(issuer, owner, { token: good })).json().active).toBe(true); // the forgery kit works
    const forged = [
      signJws(key.privateKeyPem, 'RS256', header, claimsFrom('https://evil.example', owner.clientId)),
      signJws(key.privateKeyPem, 'RS256', header, claimsFrom(issuer.issuer, owner.clientId, { aud: 'https://other-api.example' })),
      signJws(key.privateKeyPem, 'RS256', { ...header, typ: 'JWT' }, claimsFrom(issuer.issuer, owner.clientId)),
      signJws(key.privateKeyPem, 'RS256', header, claimsFrom(issuer.issuer, owner.clientId, { jti: undefined })),
    ];
    for (const token of forged) expect((await introspect(issuer, owner, { token })).json()).toEqual({ active: false });
  });

  test('§2.2: tokens of a disabled client are {active:false}, and active again when it is re-enabled', async () => {
    const client = await seedClient(issuer.auth);
    const token = await issueToken(issuer, client);
    await issuer.auth.registry.setClientEnabled(client.clientId, false);
    expect((await introspect(issuer, resourceServer, { token })).json()).toEqual({ active: false });
    await issuer.auth.registry.setClientEnabled(client.clientId, true);
    expect((await introspect(issuer, resourceServer, { token })).json().active).toBe(true);
  });

  test('§2.2: tokens of a deleted client are {active:false}', async () => {
    const client = await seedClient(issuer.auth);
    const token = await issueToken(issuer, client);
    await issuer.auth.registry.deleteClient(client.clientId);
    expect((await introspect(issuer, resourceServer, { token })).json()).toEqual({ active: false });
  });

  test('§2.1: the token parameter is required: invalid_request (missing or empty)', async () => {
    const cases: Array<Record<string, string>> = [{}, { token: '' }, { token_type_hint: 'access_token' }];
    for (const params of cases) {
      const res = await introspect(issuer, owner, params);
      expect(res.status).toBe(400);
      expect(res.json().error).toBe('invalid_request');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  test('§2.1: the caller must authenticate: none or a wrong secret is 401 invalid_client', async () => {
    const token = await issueToken(issuer, owner);
    const none = await postForm(`${issuer.endpoints}/introspect`, null, { token });
    expect(none.status).toBe(401);
    expect(none.json().error).toBe('invalid_client');
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    const wrong = await introspect(issuer, { clientId: owner.clientId, clientSecret: 'not-the-secret-at-all' }, { token });
    expect(wrong.status).toBe(401);
    expect(wrong.json().error).toBe('invalid_client');
  });

  test('§2.1: a disabled caller cannot introspect (invalid_client)', async () => {
    const caller = await seedClient(issuer.auth, ['ccgate:introspect']);
    const token = await issueToken(issuer, owner);
    await issuer.auth.registry.setClientEnabled(caller.clientId, false);
    expect((await introspect(issuer, caller, { token })).status).toBe(401);
  });

  test('§2.1: POST only (GET is 405); §4 answers are not cacheable (no-store)', async () => {
    const get = await httpRequest(`${issuer.endpoints}/introspect`);
    expect(get.status).toBe(405);
    const token = await issueToken(issuer, owner);
    const res = await introspect(issuer, owner, { token });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('RFC 7662 §2.2: an expired token is {active:false}', () => {
  test('after exp the same token reads inactive', async () => {
    const issuer = await startIssuer({ tokenLifetime: 2, clockTolerance: 0 }); // iat is whole seconds: at least 1 s left
    try {
      const client = await seedClient(issuer.auth);
      const token = await issueToken(issuer, client);
      expect((await introspect(issuer, client, { token })).json().active).toBe(true);
      const exp = decodeJwt(token).payload.exp as number;
      while (Date.now() / 1000 < exp + 0.1) await sleep(100);
      expect((await introspect(issuer, client, { token })).json()).toEqual({ active: false });
    } finally {
      await issuer.close();
    }
  });
});

describe('RFC 7662 §2.1: introspectScope is configurable', () => {
  test('a custom scope grants introspection of others; ccgate:introspect then does not', async () => {
    const issuer = await startIssuer({ introspectScope: 'rs:introspect' });
    try {
      const owner = await seedClient(issuer.auth);
      const custom = await seedClient(issuer.auth, ['rs:introspect']);
      const defaultScope = await seedClient(issuer.auth, ['ccgate:introspect']);
      const token = await issueToken(issuer, owner);
      expect((await introspect(issuer, custom, { token })).json().active).toBe(true);
      expect((await introspect(issuer, defaultScope, { token })).json()).toEqual({ active: false });
    } finally {
      await issuer.close();
    }
  });
});
