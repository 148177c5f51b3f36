/**
 * client_secret_basic as real clients send it, over real HTTP: RFC 6749 §2.3.1 says the client id and
 * secret are form-urlencoded before the Basic encoding, but curl -u, Python requests' HTTPBasicAuth
 * and most HTTP libraries send them raw. ccgate reads the RFC's form first and, when that differs and
 * does not verify (or the raw text is not form-urlencoding at all), the raw one.
 */
import { formEncode, basicRaw, tokenFrom, callApi, expectInvalidClient } from '../support/oauth';
import { curl, HAS_CURL } from '../support/interop';
import { loopback, SourceAddress } from '../support/http';
import { startIssuer, type TestIssuer } from '../support/servers';

/** Every character form-encoding touches; raw, "%41" and "+" decode to something else. */
const RESERVED = 'p%41ss+word:/=&~ 2024 x';
/** Raw, not valid form-urlencoding at all. */
const TRAILING_PERCENT = 'ends-with-a-percent-sign-%';

let issuer: TestIssuer;
const ids: Record<string, string> = {};
beforeAll(async () => {
  issuer = await startIssuer();
  await issuer.auth.registry.createGroup('readers', ['reports:read']);
  for (const secret of [RESERVED, TRAILING_PERCENT]) {
    ids[secret] = (await issuer.auth.registry.createClient({ name: 'chosen secret', groups: ['readers'], secret })).client.clientId;
  }
});
afterAll(() => issuer.close());
afterEach(() => expect(issuer.serverErrors).toEqual([]));

const tokenUrl = () => `${issuer.endpoints}/token`;

(HAS_CURL ? describe : describe.skip)('curl as a child process', () => {
  test.each([
    ['a secret with % + : / = & ~ and a space', RESERVED],
    ['a secret ending in %', TRAILING_PERCENT],
  ])('curl -u "$ID:$SECRET" (raw) with %s gets a token that the API accepts', async (_label, secret) => {
    const res = await curl(['-u', `${ids[secret]}:${secret}`, '-d', 'grant_type=client_credentials', tokenUrl()]);
    expect(res.status).toBe(200);
    const token = (JSON.parse(res.body) as { access_token: string }).access_token;
    expect((await callApi(`${issuer.origin}/local/reports`, token)).status).toBe(200);
  });

  test('curl -u with the id and secret form-urlencoded first (RFC 6749 §2.3.1) gets a token too', async () => {
    const res = await curl(['-u', `${formEncode(ids[RESERVED])}:${formEncode(RESERVED)}`, '-d', 'grant_type=client_credentials', tokenUrl()]);
    expect(res.status).toBe(200);
  });

  test('RFC 6749 §5.2: curl -u with a wrong secret, raw or encoded, is 401 invalid_client with a Basic challenge', async () => {
    for (const wrong of [`${RESERVED}x`, formEncode(`${RESERVED}x`)]) {
      const res = await curl(['-u', `${ids[RESERVED]}:${wrong}`, '-d', 'grant_type=client_credentials', tokenUrl()]);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="ccgate"');
      expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_client' });
    }
  });
});

describe("Node's http client, raw credentials from another address", () => {
  const from = new SourceAddress(loopback(2));
  afterAll(() => from.close());

  test('raw and RFC-encoded Basic credentials both get tokens; a wrong secret in either form is 401', async () => {
    const id = ids[RESERVED];
    expect((await tokenFrom(from, issuer, null, {}, { Authorization: basicRaw(id, RESERVED) })).status).toBe(200);
    expect((await tokenFrom(from, issuer, { clientId: id, clientSecret: RESERVED })).status).toBe(200);
    expectInvalidClient(await tokenFrom(from, issuer, null, {}, { Authorization: basicRaw(id, `${RESERVED}x`) }));
    expectInvalidClient(await tokenFrom(from, issuer, { clientId: id, clientSecret: `${RESERVED}x` }));
  });
});
