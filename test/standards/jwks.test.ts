/**
 * RFC 7517 JWK Set at <mount>/jwks, and the key lifecycle behind it (pending -> active -> retired ->
 * removed), against a real issuer on loopback and real SQLite files.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { Keyring } from '../../lib/tokens';
import { openRegistry, SqliteStorage, type KeyStorage } from '../../lib';
import { KEY_REMOVAL_MARGIN_SECONDS } from '../../lib/registry';
import { tempDir, tempRegistry } from '../support/temp';
import { eventually, nowSeconds } from '../support/time';
import { httpRequest } from '../support/http';
import { callApi, issueToken } from '../support/oauth';
import { decodeJwt, jwkThumbprint, kidOf, verifiesWithJwk } from '../support/jwt';
import { seedClient } from '../support/clients';
import { startIssuer, type TestIssuer } from '../support/servers';
import { cliKeyRotate } from '../support/cli';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

async function jwks(issuer: TestIssuer): Promise<Array<Record<string, string>>> {
  const res = await httpRequest(`${issuer.endpoints}/jwks`);
  expect(res.status).toBe(200);
  return res.json().keys;
}

describe('RFC 7517 §5: the JWK Set document', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({ jwksMaxAge: 77 });
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('§5: a JSON object with a "keys" array, cacheable for jwksMaxAge seconds', async () => {
    const client = await seedClient(issuer.auth);
    await issueToken(issuer, client); // the first token creates the first key
    const res = await httpRequest(`${issuer.endpoints}/jwks`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/(json|jwk-set\+json)/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=77');
    expect(Object.keys(res.json())).toEqual(['keys']);
    expect(res.json().keys.length).toBeGreaterThan(0);
  });

  test('§4 / RFC 7518 §6.3: RSA public members only (no d, p, q, dp, dq, qi), with kid, alg, use "sig"', async () => {
    for (const key of await jwks(issuer)) {
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
      expect(key).toEqual({ kty: 'RSA', kid: expect.any(String), alg: 'RS256', use: 'sig', n: expect.any(String), e: 'AQAB' });
      expect(createPublicKey({ key: key, format: 'jwk' }).type).toBe('public');
    }
  });

  test('§4.5: kid is unique in the set, is the RFC 7638 thumbprint, and names the key that signed the token', async () => {
    const client = await seedClient(issuer.auth);
    const token = await issueToken(issuer, client);
    const keys = await jwks(issuer);
    expect(new Set(keys.map((k) => k.kid)).size).toBe(keys.length);
    for (const key of keys) expect(key.kid).toBe(jwkThumbprint(key));
    const signer = keys.find((k) => k.kid === kidOf(token));
    expect(signer).toBeDefined();
    expect(decodeJwt(token).header).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: signer!.kid });
    expect(verifiesWithJwk(token, signer!)).toBe(true);
  });

  test('only GET: POST /jwks is 405 with Allow: GET', async () => {
    const res = await httpRequest(`${issuer.endpoints}/jwks`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });
});

describe('RFC 7517 §5: only public members are published, whatever the store hands over', () => {
  test('a RegistryStorage of your own whose publicJwk carries private members: the JWKS still has none', async () => {
    const dir = tempDir();
    const storage = new SqliteStorage(join(dir.dir, 'registry.db'));
    // A careless custom storage that keeps the full JWK (private members too) as "publicJwk".
    const stored = storage.keys;
    const carelessKeys: KeyStorage = {
      apply: (change) => stored.apply(change),
      recordUse: (kid, until) => stored.recordUse(kid, until),
      delete: (kids) => stored.delete(kids),
      replacePrivateKey: (kid, expected, replacement) => stored.replacePrivateKey(kid, expected, replacement),
      list: async () =>
        (await stored.list()).map((k) => ({
          ...k,
          publicJwk: { ...k.publicJwk, ...(createPrivateKey(k.privateKeyPem).export({ format: 'jwk' }) as object) },
        })),
    };
    const careless = new Proxy(storage, {
      get(target, prop) {
        if (prop === 'keys') return carelessKeys;
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const issuer = await startIssuer({ db: careless });
    try {
      const client = await seedClient(issuer.auth);
      const token = await issueToken(issuer, client);
      const keys = await jwks(issuer);
      expect(keys.map((k) => k.kid)).toEqual([kidOf(token)]);
      for (const key of keys) for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
      expect(keys[0]).toEqual({ kty: 'RSA', kid: kidOf(token), alg: 'RS256', use: 'sig', n: expect.any(String), e: 'AQAB' });
      expect(verifiesWithJwk(token, keys[0])).toBe(true);
    } finally {
      await issuer.close();
      dir.cleanup();
    }
  });
});

describe('RFC 7517 / RFC 7518 §6.2: an ES256 issuer publishes EC public keys', () => {
  test('crv P-256, x, y; no d', async () => {
    const issuer = await startIssuer({ algorithm: 'ES256' });
    try {
      const client = await seedClient(issuer.auth);
      const token = await issueToken(issuer, client);
      const keys = await jwks(issuer);
      expect(keys).toEqual([{ kty: 'EC', kid: kidOf(token), alg: 'ES256', use: 'sig', crv: 'P-256', x: expect.any(String), y: expect.any(String) }]);
      expect(keys[0]).not.toHaveProperty('d');
      expect(verifiesWithJwk(token, keys[0])).toBe(true);
    } finally {
      await issuer.close();
    }
  });
});

describe('key rotation at the issuer (pending -> active -> retired)', () => {
  let issuer: TestIssuer;
  afterEach(async () => {
    expect(issuer.serverErrors).toEqual([]);
    await issuer.close();
  });

  test('rotateKey({leadSeconds: 0}): both keys published, new tokens use the new key, old tokens still pass the local guard', async () => {
    issuer = await startIssuer();
    const client = await seedClient(issuer.auth);
    const before = await issueToken(issuer, client);
    const added = await issuer.auth.rotateKey({ leadSeconds: 0 });
    expect(added.status).toBe('active');
    const kids = (await jwks(issuer)).map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([kidOf(before), added.kid]));
    expect(kids).toHaveLength(2);
    const after = await issueToken(issuer, client);
    expect(kidOf(after)).toBe(added.kid);
    expect((await callApi(`${issuer.origin}/local/reports`, before)).status).toBe(200);
    expect((await callApi(`${issuer.origin}/local/reports`, after)).status).toBe(200);
    const stored = await issuer.auth.registry.listKeys();
    expect(stored.find((k) => k.kid === kidOf(before))?.status).toBe('retired');
  });

  test('lead time: the new key is published (pending) before it signs, and signs once its time comes', async () => {
    issuer = await startIssuer();
    const client = await seedClient(issuer.auth);
    const oldKid = kidOf(await issueToken(issuer, client));
    const added = await issuer.auth.rotateKey({ leadSeconds: 3 });
    expect(added.status).toBe('pending');
    expect((await jwks(issuer)).map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, added.kid]));
    // Still pending: tokens are signed by the old key (the lead time is whole seconds ahead of now).
    expect(kidOf(await issueToken(issuer, client))).toBe(oldKid);
    // Once the activation time passes, the new key signs with no restart.
    const token = await eventually(async () => {
      const t = await issueToken(issuer, client);
      return kidOf(t) === added.kid ? t : undefined;
    }, 60);
    expect((await callApi(`${issuer.origin}/local/reports`, token)).status).toBe(200);
    const status = Object.fromEntries((await issuer.auth.registry.listKeys()).map((k) => [k.kid, k.status]));
    expect(status).toEqual({ [oldKid]: 'retired', [added.kid]: 'active' });
  });

  test('`ccgate key rotate --lead 3` (the built CLI, another process): published at once as pending, signs once due, no restart', async () => {
    issuer = await startIssuer();
    const client = await seedClient(issuer.auth);
    const oldKid = kidOf(await issueToken(issuer, client));
    const added = await cliKeyRotate(issuer.dbPath, '3');
    expect(added.status).toBe('pending');
    expect((await jwks(issuer)).map((k) => k.kid).sort()).toEqual([oldKid, added.kid].sort());
    expect(kidOf(await issueToken(issuer, client))).toBe(oldKid);
    await eventually(async () => (kidOf(await issueToken(issuer, client)) === added.kid ? true : undefined), 80);
  });

  test('a rotation through another registry connection on the same file is picked up without restart', async () => {
    issuer = await startIssuer();
    const client = await seedClient(issuer.auth);
    const oldKid = kidOf(await issueToken(issuer, client));
    const other = openRegistry(issuer.dbPath, { bcryptCost: 4, pruneIntervalSeconds: 0 });
    const added = await other.rotateKey({ alg: 'RS256', leadSeconds: 0 }).finally(() => other.close());
    expect((await jwks(issuer)).map((k) => k.kid).sort()).toEqual([oldKid, added.kid].sort());
    expect(kidOf(await issueToken(issuer, client))).toBe(added.kid);
  });

  test('a retired key is removed from the JWKS once removeAfter has passed (clock moved forward)', async () => {
    issuer = await startIssuer({ tokenLifetime: 1 });
    const client = await seedClient(issuer.auth);
    const old = await issueToken(issuer, client);
    await issuer.auth.rotateKey({ leadSeconds: 0 });
    const retired = (await issuer.auth.registry.listKeys()).find((k) => k.kid === kidOf(old))!;
    expect(retired.status).toBe('retired');
    expect(retired.removeAfter).toBe(Math.max(retired.retiresAt!, retired.signedUntil!) + KEY_REMOVAL_MARGIN_SECONDS);
    expect(retired.signedUntil).toBeGreaterThanOrEqual(decodeJwt(old).payload.exp);
    expect((await jwks(issuer)).map((k) => k.kid)).toContain(retired.kid);

    const spy = jest.spyOn(Date, 'now');
    try {
      spy.mockImplementation(() => (retired.removeAfter! - 1) * 1000);
      expect((await jwks(issuer)).map((k) => k.kid)).toContain(retired.kid);
      spy.mockImplementation(() => retired.removeAfter! * 1000 + 1);
      expect((await jwks(issuer)).map((k) => k.kid)).not.toContain(retired.kid);
      // The next rotation prunes it from the registry for good.
      await issuer.auth.rotateKey({ leadSeconds: 0 });
      expect((await issuer.auth.registry.listKeys()).map((k) => k.kid)).not.toContain(retired.kid);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('key removal in the registry (SqliteRegistry with its own clock)', () => {
  test('removeAfter = max(retires_at, signed_until) + KEY_REMOVAL_MARGIN_SECONDS; prune removes the key then, not before', async () => {
    const reg = tempRegistry();
    try {
      const { registry, clock } = reg;
      const first = await registry.ensureSigningKey('RS256');
      await registry.recordKeyUse(first.kid, clock.t + 900); // a token valid for 15 more minutes
      clock.advance(10);
      const second = await registry.rotateKey({ alg: 'RS256', leadSeconds: 60 });
      let keys = await registry.listKeys();
      expect(keys.map((k) => [k.kid, k.status])).toEqual([
        [first.kid, 'active'],
        [second.kid, 'pending'],
      ]);
      const retiresAt = clock.t + 60;
      const old = keys[0];
      expect(old.retiresAt).toBe(retiresAt);
      expect(old.removeAfter).toBe(Math.max(retiresAt, old.signedUntil!) + KEY_REMOVAL_MARGIN_SECONDS);
      expect(old.signedUntil!).toBeGreaterThan(retiresAt); // the live token outlasts the retirement

      clock.advance(60);
      keys = await registry.listKeys();
      expect(keys.map((k) => k.status)).toEqual(['retired', 'active']);
      expect(await registry.ensureSigningKey('RS256')).toMatchObject({ kid: second.kid });

      clock.t = old.removeAfter! - 1;
      expect(await registry.pruneKeys()).toBe(0);
      expect((await registry.listKeys()).map((k) => k.kid)).toContain(first.kid);
      clock.t = old.removeAfter!;
      expect(await registry.pruneKeys()).toBe(1);
      expect((await registry.listKeys()).map((k) => k.kid)).toEqual([second.kid]);
    } finally {
      await reg.cleanup();
    }
  });

  test('a pending key superseded before it activates never signs and is removed after the margin', async () => {
    const reg = tempRegistry();
    try {
      const { registry, clock } = reg;
      await registry.ensureSigningKey('RS256');
      const skipped = await registry.rotateKey({ alg: 'RS256', leadSeconds: 3600 });
      clock.advance(5);
      const third = await registry.rotateKey({ alg: 'RS256', leadSeconds: 0 });
      const keys = Object.fromEntries((await registry.listKeys()).map((k) => [k.kid, k]));
      expect(keys[skipped.kid].status).toBe('retired');
      expect(keys[third.kid].status).toBe('active');
      expect(await registry.ensureSigningKey('RS256')).toMatchObject({ kid: third.kid });
      expect(keys[skipped.kid].removeAfter).toBe(clock.t + KEY_REMOVAL_MARGIN_SECONDS);
      clock.advance(KEY_REMOVAL_MARGIN_SECONDS);
      await registry.pruneKeys();
      expect((await registry.listKeys()).map((k) => k.kid)).not.toContain(skipped.kid);
    } finally {
      await reg.cleanup();
    }
  });

  // Regression: the key signing now must not keep the later retirement an earlier, scheduled rotation gave it.
  test('an immediate rotation during a pending one retires the signing key at once', async () => {
    const reg = tempRegistry();
    try {
      const { registry, clock } = reg;
      const first = await registry.ensureSigningKey('RS256');
      await registry.rotateKey({ alg: 'RS256', leadSeconds: 3600 });
      clock.advance(5);
      await registry.rotateKey({ alg: 'RS256', leadSeconds: 0 });
      const old = (await registry.listKeys()).find((k) => k.kid === first.kid)!;
      expect(old.status).toBe('retired');
      expect(old.retiresAt).toBe(clock.t);
    } finally {
      await reg.cleanup();
    }
  });

  test('the JWKS (Keyring) follows the registry: a pruned key leaves the published set', async () => {
    const reg = tempRegistry();
    try {
      const { registry, clock } = reg;
      clock.t = nowSeconds();
      const keyring = new Keyring(registry);
      const first = await registry.ensureSigningKey('RS256');
      const second = await registry.rotateKey({ alg: 'RS256', leadSeconds: 0 });
      expect((await keyring.jwks()).keys.map((k) => k.kid).sort()).toEqual([first.kid, second.kid].sort());
      expect((await keyring.jwks()).keys.every((k) => !('d' in k))).toBe(true);
      clock.advance(KEY_REMOVAL_MARGIN_SECONDS);
      expect(await registry.pruneKeys()).toBe(1);
      expect((await keyring.jwks()).keys.map((k) => k.kid)).toEqual([second.kid]);
      expect(await keyring.keyFor(first.kid)).toBeUndefined();
    } finally {
      await reg.cleanup();
    }
  });
});
