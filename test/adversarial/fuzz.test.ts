/**
 * Property-based fuzzing (fast-check, bounded runs): the Basic-credentials parser, the token
 * endpoint's form handling and the bearer extraction never throw and never answer 5xx.
 */
import fc from 'fast-check';
import request from 'supertest';
import { extractBearerToken } from '../../lib/guard/bearer';
import { parseBasicAuthorization } from '../../lib/basic';
import { basic, basicBytes, basicForm, basicRaw, formEncode, getToken, RFC6749_ERRORS } from '../support/oauth';
import { realKey, type RealKey } from '../support/jwt';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
let clientId: string;
let clientSecret: string;
let key: RealKey;

beforeAll(async () => {
  server = createTestServer({ onServerError: () => undefined });
  ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read', 'reports:write']));
  await getToken(server, clientId, clientSecret);
  key = await realKey(server);
});
afterAll(() => server.close());

/** Any Unicode text (whole code points, no lone surrogates). */
const text = (maxLength: number) => fc.string({ unit: 'binary', maxLength });
/** Bytes Node lets through as a header value (RFC 9110 field-value, obs-text included). */
const headerChar = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(0x09), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c));
const headerText = (maxLength: number) => fc.string({ unit: headerChar, maxLength });
const b64url = (maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 1, maxLength });

const KINDS = ['absent', 'credentials', 'malformed'];

describe('parseBasicAuthorization', () => {
  test('never throws on any header value, and always answers one of its three kinds', () => {
    const header = fc.oneof(
      fc.constant(undefined),
      text(200),
      text(200).map((t) => `Basic ${t}`),
      fc.uint8Array({ maxLength: 120 }).map((b) => basicBytes(b)),
      fc.uint8Array({ maxLength: 900 }).map((b) => `basic   ${Buffer.from(b).toString('base64')}  `),
      headerText(100).map((t) => `BASIC ${Buffer.from(t, 'latin1').toString('base64')}`),
    );
    fc.assert(
      fc.property(header, (h) => {
        const parsed = parseBasicAuthorization(h);
        expect(KINDS).toContain(parsed.kind);
        if (parsed.kind === 'credentials') expect(parsed.clientId).not.toBe('');
      }),
      { numRuns: 300 },
    );
  });

  test('round-trips any form-urlencoded client id and secret (RFC 6749 §2.3.1)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), text(30), fc.boolean(), (id, secret, useUriEncoding) => {
        const header = useUriEncoding ? basic(id, secret) : basicForm(id, secret);
        // The RFC's reading comes first; a second, raw reading may follow.
        expect(parseBasicAuthorization(header)).toMatchObject({ kind: 'credentials', clientId: id, secrets: expect.arrayContaining([secret]) });
        const parsed = parseBasicAuthorization(header);
        expect(parsed.kind === 'credentials' && parsed.secrets[0]).toBe(secret);
      }),
      { numRuns: 300 },
    );
  });

  test('a secret holding raw ":" characters is split on the first colon only', () => {
    const plain = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.~:'), maxLength: 40 });
    const id = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.~'), minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(id, plain, (i, s) => {
        expect(parseBasicAuthorization(basicRaw(i, s))).toEqual({ kind: 'credentials', clientId: i, secrets: [s] });
      }),
      { numRuns: 200 },
    );
  });
});

describe('POST /oauth/token with random bodies', () => {
  const names = fc.oneof(fc.constantFrom('grant_type', 'scope', 'client_id', 'client_secret', 'token', '__proto__', 'constructor', ''), text(12));
  const values = fc.oneof(fc.constantFrom('client_credentials', 'reports:read', 'CLIENT_ID', 'password', ''), text(40));
  const pair = fc.tuple(names, values, fc.boolean()).map(([n, v, encode]) => (encode ? `${formEncode(n)}=${formEncode(v)}` : `${n}=${v}`));
  const body = fc.oneof(
    text(300),
    fc.array(pair, { maxLength: 8 }).map((pairs) => pairs.join('&')),
    fc.array(pair, { maxLength: 4 }).map((pairs) => ['grant_type=client_credentials', ...pairs].join('&')),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
  );
  const auth = fc.constantFrom('none', 'real', 'wrong', 'garbage');

  test('never a 5xx: always JSON, a token or an RFC 6749 §5.2 error code', async () => {
    await fc.assert(
      fc.asyncProperty(body, auth, async (b, a) => {
        let req = request(server.app).post('/oauth/token').type('form');
        if (a === 'real') req = req.set('Authorization', basic(clientId, clientSecret));
        if (a === 'wrong') req = req.set('Authorization', basic(clientId, 'wrong-secret-0123456789'));
        if (a === 'garbage') req = req.set('Authorization', 'Basic Zm9v');
        const res = await req.send(b.replace(/CLIENT_ID/g, clientId));
        expect(res.status).toBeLessThan(500);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.headers['cache-control']).toBe('no-store');
        if (res.status === 200) {
          expect(a).toBe('real');
          expect(res.body.token_type).toBe('Bearer');
        } else {
          expect(RFC6749_ERRORS).toContain(res.body.error);
        }
      }),
      { numRuns: 250 },
    );
  });
});

describe('bearer extraction', () => {
  test('extractBearerToken never throws on any request shape, and only yields well-formed b64tokens', () => {
    const header = fc.oneof(
      fc.constant(undefined),
      text(80),
      text(80).map((t) => `Bearer ${t}`),
      headerText(80).map((t) => `bearer ${t}`),
    );
    const rawHeaders = fc.array(fc.oneof(fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION', 'Host'), text(15)), { maxLength: 8 });
    fc.assert(
      fc.property(header, rawHeaders, fc.anything(), fc.anything(), (authorization, raw, query, body) => {
        const list = raw.length % 2 ? raw.slice(1) : raw;
        const result = extractBearerToken({ headers: { authorization }, rawHeaders: list, query, body });
        expect(['token', 'none', 'malformed']).toContain(result.kind);
        if (result.kind === 'token') {
          expect(result.token).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/);
          expect(authorization?.toLowerCase().startsWith('bearer ')).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('random Authorization headers against a guarded route: never a 5xx, always a Bearer challenge', async () => {
    const jwtish = fc
      .tuple(
        fc.record(
          {
            alg: fc.constantFrom('RS256', 'ES256', 'HS256', 'none', 'PS256'),
            typ: fc.constantFrom('at+jwt', 'JWT', 'application/at+jwt'),
            kid: fc.constantFrom(key.kid, 'x', '__proto__', ''),
          },
          { requiredKeys: [] },
        ),
        fc.oneof(
          fc.json(),
          fc
            .record({
              scope: fc.oneof(fc.string(), fc.array(fc.string())),
              exp: fc.oneof(fc.integer(), fc.string()),
              client_id: fc.constantFrom(clientId, 'x'),
            })
            .map((o) => JSON.stringify(o)),
        ),
        fc.oneof(fc.constant(''), b64url(64)),
      )
      .map(([h, p, s]) => `Bearer ${Buffer.from(JSON.stringify(h)).toString('base64url')}.${Buffer.from(p).toString('base64url')}.${s}`);
    const header = fc.oneof(
      headerText(120),
      headerText(120).map((t) => `Bearer ${t}`),
      b64url(200).map((t) => `Bearer ${t}`),
      fc.tuple(b64url(40), b64url(80), b64url(80)).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
      jwtish,
    );
    await fc.assert(
      fc.asyncProperty(header, async (h) => {
        const res = await request(server.app).get('/api/reports').set('Authorization', h);
        expect(res.status).toBeLessThan(500);
        expect([400, 401, 403]).toContain(res.status);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="ccgate"/);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
      }),
      { numRuns: 300 },
    );
  });
});
