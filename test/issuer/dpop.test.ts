/**
 * RFC 9449 DPoP at a real issuer's token endpoint (loopback HTTP): proofs signed by hand with
 * node:crypto (test/support/dpop.ts), the bound token (cnf.jkt, token_type DPoP) and its
 * introspection, every refusal of a proof (400 invalid_dpop_proof, before any bcrypt), the jti used
 * once across two instances on one SQLite file, clients that must use DPoP, server nonces (§8) shared
 * by instances with one key secret, the RFC 8414 metadata, and the dpop option's checks.
 */
import { join } from 'node:path';
import { ccgate, ConfigurationError, type CcgateOptions } from '../../lib';
import { startPeer, type Peer } from '../support/assertions';
import { seedClient, type SeededClient } from '../support/clients';
import { METADATA_PATH } from '../support/constants';
import { dpopKey, dpopProof, dpopTokenRequest, DPOP_ALGS, thumbprintOf, tokenProof, type DpopKey } from '../support/dpop';
import { EventLog } from '../support/events';
import { httpRequest, type RawResponse } from '../support/http';
import { b64json, decodeJwt } from '../support/jwt';
import { ERROR_DESCRIPTION_CHARS, expectInvalidClient, expectTokenError, introspect } from '../support/oauth';
import { startIssuer, TEST_OPTIONS, type TestIssuer } from '../support/servers';
import { tempDir } from '../support/temp';
import { nowSeconds } from '../support/time';

const NONCE = /^[A-Za-z0-9_-]+$/;
const KEY_SECRET = 'a key secret of more than thirty-two characters';

/** The refusal of a proof: 400 invalid_dpop_proof as RFC 6749 §5.2 JSON, with no-store. */
function expectBadProof(res: RawResponse): void {
  expectTokenError(res, 400, 'invalid_dpop_proof');
  expect(res.headers['www-authenticate']).toBeUndefined();
}

describe('RFC 9449 DPoP at the token endpoint', () => {
  let issuer: TestIssuer;
  let log: EventLog;
  let client: SeededClient;
  let key: DpopKey;
  let htu: string;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    log = new EventLog(issuer.auth);
    client = await seedClient(issuer.auth, ['reports:read']);
    key = dpopKey('ES256');
    htu = `${issuer.endpoints}/token`;
  });
  beforeEach(() => log.clear());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));
  afterAll(async () => {
    log.stop();
    await issuer.close();
  });

  const rejections = () => log.ofType('dpop.proof_rejected').map((e) => ({ reason: e.reason, clientId: e.clientId }));

  test.each(DPOP_ALGS)('RFC 9449 §5, §6.1: a proof signed %s gets a DPoP-bound token (cnf.jkt = the RFC 7638 thumbprint, token_type DPoP)', async (alg) => {
    const own = alg === 'ES256' ? key : dpopKey(alg);
    const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(own, htu) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'DPoP', expires_in: 900, scope: 'reports:read' });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['dpop-nonce']).toBeUndefined();
    const { payload } = decodeJwt(res.body.access_token);
    expect(payload.cnf).toEqual({ jkt: own.jkt });
    expect(own.jkt).toBe(thumbprintOf(own.publicJwk));
    expect(log.ofType('token.issued')).toEqual([expect.objectContaining({ clientId: client.clientId, jti: payload.jti, jkt: own.jkt })]);
  });

  test('without a DPoP header nothing changes: a bearer token, no cnf', async () => {
    const res = await dpopTokenRequest(issuer.endpoints, client);
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
    expect(decodeJwt(res.body.access_token).payload).not.toHaveProperty('cnf');
    expect(log.ofType('token.issued')[0]).not.toHaveProperty('jkt');
  });

  test('client_secret_post with a proof is bound alike', async () => {
    const post = await seedClient(issuer.auth, ['reports:read'], { authMethod: 'client_secret_post' });
    const res = await dpopTokenRequest(issuer.endpoints, post, { dpop: tokenProof(key, htu) });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.cnf).toEqual({ jkt: key.jkt });
  });

  test('RFC 9449 §4.3 item 9: htu is compared with the configured token endpoint URL, normalized, without query or fragment', async () => {
    const url = new URL(htu);
    for (const spelled of [`HTTP://${url.host.toUpperCase()}${url.pathname}`, `${htu}?x=1#f`, `http://${url.hostname}:${url.port}/oauth/./token`]) {
      const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, spelled) });
      expect({ spelled, status: res.status }).toEqual({ spelled, status: 200 });
    }
  });

  test('the expected htu is the configured public URL, never one made from the Host header', async () => {
    const headers = { Host: 'evil.example' };
    const forHost = await dpopTokenRequest(issuer.endpoints, client, { headers, dpop: tokenProof(key, 'http://evil.example/oauth/token') });
    expectBadProof(forHost);
    expect(forHost.body.error_description).toContain(htu);
    const forConfigured = await dpopTokenRequest(issuer.endpoints, client, { headers, dpop: tokenProof(key, htu) });
    expect(forConfigured.status).toBe(200);
    expect(rejections()).toEqual([{ reason: 'wrong_url', clientId: null }]);
  });

  describe('RFC 9449 §4.3, §5: every refused proof is 400 invalid_dpop_proof', () => {
    const other = dpopKey('ES256');
    const unsecured = (): string =>
      `${b64json({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk })}.${b64json({ jti: 'j', htm: 'POST', htu, iat: nowSeconds() })}.`;
    const cases: Array<[string, string, () => string]> = [
      ['not a JWT', 'malformed', () => 'not-a-jwt'],
      ['an empty header', 'malformed', () => ''],
      ['longer than 4096 characters', 'too_long', () => tokenProof(key, htu, { claims: { pad: 'x'.repeat(5000) } })],
      ['typ JWT (§4.2: dpop+jwt)', 'wrong_type', () => tokenProof(key, htu, { header: { typ: 'JWT' } })],
      ['no typ', 'wrong_type', () => tokenProof(key, htu, { header: { typ: undefined } })],
      ['alg none, unsecured (an empty signature: not a JWS at all)', 'malformed', unsecured],
      ['alg none with a signature', 'unsupported_algorithm', () => tokenProof(key, htu, { header: { alg: 'none' } })],
      ['alg HS256', 'unsupported_algorithm', () => tokenProof(key, htu, { header: { alg: 'HS256' } })],
      ['no jwk header', 'bad_key', () => tokenProof(key, htu, { header: { jwk: undefined } })],
      ['a jwk with its private member d (§4.2)', 'bad_key', () => tokenProof(key, htu, { publicJwk: key.privateKey.export({ format: 'jwk' }) })],
      ['an RSA jwk for ES256', 'bad_key', () => tokenProof(key, htu, { publicJwk: dpopKey('RS256').publicJwk })],
      ['signed by another key than its jwk', 'bad_signature', () => tokenProof(key, htu, { privateKey: other.privateKey })],
      ['htm GET', 'wrong_method', () => tokenProof(key, htu, { htm: 'GET' })],
      ['htm post (methods are case-sensitive)', 'wrong_method', () => tokenProof(key, htu, { htm: 'post' })],
      ['htu of another endpoint', 'wrong_url', () => tokenProof(key, htu.replace(/\/token$/, '/introspect'))],
      ['htu of another origin', 'wrong_url', () => tokenProof(key, 'https://other.example/oauth/token')],
      ['iat an hour ago', 'stale', () => tokenProof(key, htu, { iat: nowSeconds() - 3600 })],
      ['iat two minutes ago (window 60 s + 5 s tolerance)', 'stale', () => tokenProof(key, htu, { iat: nowSeconds() - 120 })],
      ['iat an hour ahead', 'stale', () => tokenProof(key, htu, { iat: nowSeconds() + 3600 })],
      ['no iat', 'stale', () => tokenProof(key, htu, { claims: { iat: undefined } })],
      ['no jti', 'missing_jti', () => tokenProof(key, htu, { claims: { jti: undefined } })],
    ];
    test.each(cases)('%s: %s', async (_what, reason, proof) => {
      const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: proof() });
      expectBadProof(res);
      expect(rejections()).toEqual([{ reason, clientId: null }]);
      expect(log.ofType('token.issued')).toEqual([]);
    });

    test('§4.3 item 1: two DPoP headers, even two valid proofs', async () => {
      const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: [tokenProof(key, htu), tokenProof(key, htu)] });
      expectBadProof(res);
      expect(rejections()).toEqual([{ reason: 'several', clientId: null }]);
    });

    test('a bad proof is refused before client authentication: a wrong secret is not even tried (no bcrypt run, no auth failure)', async () => {
      const res = await dpopTokenRequest(issuer.endpoints, { ...client, clientSecret: 'wrong-secret-wrong-secret' }, { dpop: 'not-a-jwt' });
      expectBadProof(res);
      expect(log.ofType('client.auth_failed')).toEqual([]);
    });

    test('descriptions stay in RFC 6749 §5.2 characters whatever the proof holds', async () => {
      const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, 'http://"quoted"\\/x') });
      expectBadProof(res);
      expect(res.body.error_description).toMatch(ERROR_DESCRIPTION_CHARS);
    });

    test('a fractional iat (RFC 7519 NumericDate) is fine, and its jti is still used once', async () => {
      const proof = tokenProof(key, htu, { iat: Date.now() / 1000 });
      expect((await dpopTokenRequest(issuer.endpoints, client, { dpop: proof })).status).toBe(200);
      expectBadProof(await dpopTokenRequest(issuer.endpoints, client, { dpop: proof }));
    });

    test('an ath at the token endpoint is ignored: a token request carries no access token', async () => {
      const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu, { ath: 'whatever' }) });
      expect(res.status).toBe(200);
    });
  });

  describe('RFC 9449 §11.1: a proof is used once', () => {
    test('the same proof again is refused: invalid_dpop_proof, reason replayed, with the client named', async () => {
      const proof = tokenProof(key, htu);
      expect((await dpopTokenRequest(issuer.endpoints, client, { dpop: proof })).status).toBe(200);
      const again = await dpopTokenRequest(issuer.endpoints, client, { dpop: proof });
      expectBadProof(again);
      expect(rejections()).toEqual([{ reason: 'replayed', clientId: client.clientId }]);
      // Another proof with the same key is fine.
      expect((await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu) })).status).toBe(200);
    });

    test('the same jti from another key is another proof', async () => {
      const jti = 'shared-jti';
      expect((await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu, { jti }) })).status).toBe(200);
      expect((await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(dpopKey('ES256'), htu, { jti }) })).status).toBe(200);
    });

    test('only an authenticated request uses up a proof: after a wrong secret, the same proof still works', async () => {
      const proof = tokenProof(key, htu);
      expectInvalidClient(await dpopTokenRequest(issuer.endpoints, { ...client, clientSecret: 'wrong-secret-wrong-secret' }, { dpop: proof }));
      expect((await dpopTokenRequest(issuer.endpoints, client, { dpop: proof })).status).toBe(200);
    });

    test('across two instances on one SQLite file: a proof used at one is refused at the other', async () => {
      const peer = await startPeer(issuer);
      try {
        const proof = tokenProof(key, htu);
        expect((await dpopTokenRequest(issuer.endpoints, client, { dpop: proof })).status).toBe(200);
        expectBadProof(await dpopTokenRequest(peer.endpoints, client, { dpop: proof }));
        const fresh = tokenProof(key, htu);
        expect((await dpopTokenRequest(peer.endpoints, client, { dpop: fresh })).status).toBe(200);
        expectBadProof(await dpopTokenRequest(issuer.endpoints, client, { dpop: fresh }));
        expect(peer.serverErrors).toEqual([]);
      } finally {
        await peer.close();
      }
    });
  });

  describe('RFC 9449 §5.2: a client whose policy is `required` (dpop_bound_access_tokens)', () => {
    test('is refused without a proof (400 invalid_request), gets a bound token with one, and a bad proof is invalid_dpop_proof', async () => {
      const created = await issuer.auth.registry.createClient({ name: 'must bind', groups: [client.group], dpop: 'required' });
      expect(created.client.dpop).toBe('required');
      const must = { clientId: created.client.clientId, clientSecret: created.clientSecret as string };
      const without = await dpopTokenRequest(issuer.endpoints, must);
      expectTokenError(without, 400, 'invalid_request');
      expect(without.body.error_description).toMatch(/DPoP proof/);
      expect(rejections()).toEqual([{ reason: 'missing', clientId: must.clientId }]);
      expect(log.ofType('token.issued')).toEqual([]);
      const bound = await dpopTokenRequest(issuer.endpoints, must, { dpop: tokenProof(key, htu) });
      expect(bound.status).toBe(200);
      expect(bound.body.token_type).toBe('DPoP');
      expectBadProof(await dpopTokenRequest(issuer.endpoints, must, { dpop: tokenProof(key, htu, { htm: 'GET' }) }));
    });

    test('setClientDpop switches it, from the next request on, and emits client.dpop_changed', async () => {
      const seeded = await seedClient(issuer.auth, ['reports:read']);
      expect((await dpopTokenRequest(issuer.endpoints, seeded)).status).toBe(200);
      await issuer.auth.registry.setClientDpop(seeded.clientId, 'required');
      expectTokenError(await dpopTokenRequest(issuer.endpoints, seeded), 400, 'invalid_request');
      await issuer.auth.registry.setClientDpop(seeded.clientId, 'allowed');
      expect((await dpopTokenRequest(issuer.endpoints, seeded)).body.token_type).toBe('Bearer');
      expect(log.ofType('client.dpop_changed').map((e) => e.dpop)).toEqual(['required', 'allowed']);
    });
  });

  test('RFC 7662 / RFC 9449 §6.2: introspection of a bound token shows cnf.jkt and token_type DPoP; of a bearer token, neither', async () => {
    const bound = (await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu) })).body.access_token as string;
    const bearer = (await dpopTokenRequest(issuer.endpoints, client)).body.access_token as string;
    const ofBound = (await introspect(issuer, client, { token: bound })).json();
    expect(ofBound).toMatchObject({ active: true, client_id: client.clientId, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    const ofBearer = (await introspect(issuer, client, { token: bearer })).json();
    expect(ofBearer).toMatchObject({ active: true, token_type: 'Bearer' });
    expect(ofBearer).not.toHaveProperty('cnf');
  });

  test('RFC 8414 / RFC 9449 §5.1: the metadata lists dpop_signing_alg_values_supported', async () => {
    const metadata = (await httpRequest(`${issuer.origin}${METADATA_PATH}`)).json();
    expect(metadata.dpop_signing_alg_values_supported).toEqual(['ES256', 'RS256', 'PS256']);
  });
});

describe('dpop.proofWindowSeconds', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false, dpop: { proofWindowSeconds: 300 } });
    client = await seedClient(issuer.auth);
  });
  afterAll(() => issuer.close());

  test('a proof is accepted within the window (plus the clock tolerance) either way, not beyond', async () => {
    const key = dpopKey();
    const htu = `${issuer.endpoints}/token`;
    for (const [offset, status] of [
      [-200, 200],
      [200, 200],
      [-303, 200],
      [-310, 400],
      [310, 400],
    ]) {
      const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu, { iat: nowSeconds() + offset }) });
      expect({ offset, status: res.status }).toEqual({ offset, status });
    }
  });
});

describe('RFC 9449 §8: server nonces (dpop.nonces)', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let key: DpopKey;
  let htu: string;
  const peers: Peer[] = [];
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false, keySecret: KEY_SECRET, dpop: { nonces: true } });
    client = await seedClient(issuer.auth);
    key = dpopKey();
    htu = `${issuer.endpoints}/token`;
  });
  afterEach(async () => {
    for (const peer of peers.splice(0)) {
      expect(peer.serverErrors).toEqual([]);
      await peer.close();
    }
    expect(issuer.serverErrors).toEqual([]);
  });
  afterAll(() => issuer.close());

  /** The nonce a use_dpop_nonce answer gives, after checking that answer. */
  function expectUseNonce(res: RawResponse): string {
    expectTokenError(res, 400, 'use_dpop_nonce');
    const nonce = res.headers['dpop-nonce'];
    expect(nonce).toMatch(NONCE);
    return nonce as string;
  }

  test('a proof without a nonce is 400 use_dpop_nonce with DPoP-Nonce and no-store; the retry with it gets a token and a fresh DPoP-Nonce', async () => {
    const nonce = expectUseNonce(await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu) }));
    const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu, { nonce }) });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['dpop-nonce']).toMatch(NONCE);
    expect(decodeJwt(res.body.access_token).payload.cnf).toEqual({ jkt: key.jkt });
  });

  test('a nonce the server never gave is use_dpop_nonce too; an invalid proof is still invalid_dpop_proof, with a DPoP-Nonce', async () => {
    expectUseNonce(await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu, { nonce: 'A'.repeat(32) }) }));
    const bad = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu, { htm: 'GET' }) });
    expectBadProof(bad);
    expect(bad.headers['dpop-nonce']).toMatch(NONCE);
  });

  test('a request without DPoP still gets a bearer token', async () => {
    const res = await dpopTokenRequest(issuer.endpoints, client);
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
  });

  test('a second instance with the same key secret accepts the nonce the first gave', async () => {
    const peer = await startPeer(issuer, { keySecret: KEY_SECRET, dpop: { nonces: true } });
    peers.push(peer);
    const nonce = expectUseNonce(await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu) }));
    const res = await dpopTokenRequest(peer.endpoints, client, { dpop: tokenProof(key, htu, { nonce }) });
    expect(res.status).toBe(200);
    expect(res.headers['dpop-nonce']).toMatch(NONCE);
  });

  test('an instance with another nonceSecret refuses it', async () => {
    const peer = await startPeer(issuer, { keySecret: KEY_SECRET, dpop: { nonces: true, nonceSecret: 'another nonce secret, thirty-two characters or more' } });
    peers.push(peer);
    const nonce = expectUseNonce(await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu) }));
    const theirs = expectUseNonce(await dpopTokenRequest(peer.endpoints, client, { dpop: tokenProof(key, htu, { nonce }) }));
    expect(theirs).not.toBe(nonce);
    expect((await dpopTokenRequest(peer.endpoints, client, { dpop: tokenProof(key, htu, { nonce: theirs }) })).status).toBe(200);
  });
});

describe('server nonces without a key secret: random per process', () => {
  test('one instance accepts its own nonces; another instance on the same registry does not', async () => {
    const issuer = await startIssuer({ throttle: false, dpop: { nonces: true } });
    const peer = await startPeer(issuer, { dpop: { nonces: true } });
    try {
      const client = await seedClient(issuer.auth);
      const key = dpopKey();
      const htu = `${issuer.endpoints}/token`;
      const first = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu) });
      expectTokenError(first, 400, 'use_dpop_nonce');
      const nonce = String(first.headers['dpop-nonce']);
      expectTokenError(await dpopTokenRequest(peer.endpoints, client, { dpop: tokenProof(key, htu, { nonce }) }), 400, 'use_dpop_nonce');
      expect((await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, htu, { nonce }) })).status).toBe(200);
    } finally {
      await peer.close();
      await issuer.close();
    }
  });
});

describe('the dpop option is checked when ccgate() is called', () => {
  const { dir, cleanup } = tempDir('ccgate-dpop-options-');
  afterAll(cleanup);
  const build = (dpop: unknown): unknown => ccgate({ db: join(dir, 'never.db'), ...TEST_OPTIONS, dpop } as CcgateOptions);
  test.each<[string, unknown, string]>([
    ['not an object', 'on', 'dpop'],
    ['an unknown member', { nonce: true }, 'dpop.nonce'],
    ['nonces not a boolean', { nonces: 'yes' }, 'dpop.nonces'],
    ['a window of 0', { proofWindowSeconds: 0 }, 'dpop.proofWindowSeconds'],
    ['a fractional window', { proofWindowSeconds: 1.5 }, 'dpop.proofWindowSeconds'],
    ['a window over an hour', { proofWindowSeconds: 3601 }, 'dpop.proofWindowSeconds'],
    ['a short nonce secret', { nonces: true, nonceSecret: 'short' }, 'dpop.nonceSecret'],
    ['a nonce secret without nonces', { nonceSecret: 'x'.repeat(40) }, 'dpop.nonceSecret'],
  ])('%s', (_what, dpop, option) => {
    let thrown: unknown;
    try {
      build(dpop);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect(thrown).toMatchObject({ option, message: expect.stringContaining(option) });
  });
});

describe('the test helper', () => {
  test("dpopProof makes exactly RFC 9449 §4.2's header and claims, so each refused case above differs in one thing only", () => {
    const key = dpopKey();
    const { header, payload } = decodeJwt(
      dpopProof({ privateKey: key.privateKey, publicJwk: key.publicJwk, htm: 'POST', htu: 'https://x.example/token', nonce: 'n' }),
    );
    expect(header).toEqual({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk });
    expect(payload).toEqual({ jti: expect.any(String), htm: 'POST', htu: 'https://x.example/token', iat: expect.any(Number), nonce: 'n' });
  });
});
