/**
 * RFC 9449 at the token endpoint with a third-party client: oauth4webapi v3 (ESM-only, run as an
 * .mjs child process) discovers the issuer, signs its proofs with its own DPoP handle and, when the
 * issuer wants nonces (§8), retries once with the DPoP-Nonce it was given, as its documentation says.
 */
import { seedClient } from '../support/clients';
import { thumbprintOf } from '../support/dpop';
import { runInterop } from '../support/interop';
import { decodeJwt } from '../support/jwt';
import { startIssuer, type TestIssuer } from '../support/servers';

interface DpopInterop {
  tokens: { access_token: string; token_type: string };
  retried: boolean;
  publicJwk: Record<string, string>;
}

describe.each([
  ['without nonces', false],
  ['with server nonces', true],
])('oauth4webapi DPoP client credentials (%s)', (_name, nonces) => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false, keySecret: 'an interop key secret of thirty-two characters or more', dpop: { nonces } });
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('gets a token bound to its key (cnf.jkt, token_type DPoP)', async () => {
    const client = await seedClient(issuer.auth);
    const out = await runInterop<DpopInterop>('oauth4webapi-dpop.mjs', { issuer: issuer.issuer, clientId: client.clientId, clientSecret: client.clientSecret });
    expect(out.tokens.token_type.toLowerCase()).toBe('dpop');
    expect(out.retried).toBe(nonces);
    expect(decodeJwt(out.tokens.access_token).payload.cnf).toEqual({ jkt: thumbprintOf(out.publicJwk) });
  });
});
