/**
 * private_key_jwt client assertions (RFC 7523 §2.2 and §3, RFC 7521 §4.2): assertions signed by
 * jose (an independent implementation, run as a script: it is ESM-only), checked by
 * verifyClientAssertion against a client's registered keys.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AssertionRejected, RemoteFetchError } from '../../lib/errors';
import {
  ASSERTION_ALGORITHMS,
  assertionIssuer,
  CLIENT_ASSERTION_TYPE,
  parseClientJwks,
  StaticKeySet,
  verifyClientAssertion,
  type ClientAssertionCheck,
  type ClientKeys,
} from '../../lib/tokens';
import { b64json } from '../support/jwt';

const CLIENT = 'client-1';
const ISSUER = 'https://issuer.test';
const TOKEN_ENDPOINT = 'https://issuer.test/oauth/token';
/** Every assertion is signed and checked against this instant, so no test depends on the clock. */
const NOW = 1_900_000_000;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pssOnly = generateKeyPairSync('rsa', { modulusLength: 2048 });
/** Another client's key (or an attacker's): never in this client's set. */
const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 });

const privateJwk = (pair: typeof rsa) => pair.privateKey.export({ format: 'jwk' });
const publicJwk = (pair: typeof rsa) => pair.publicKey.export({ format: 'jwk' });

function registered(): StaticKeySet {
  const parsed = parseClientJwks({
    keys: [
      { ...publicJwk(rsa), kid: 'rsa-1' },
      { ...publicJwk(ec), kid: 'ec-1' },
      { ...publicJwk(pssOnly), kid: 'pss-1', alg: 'PS256' },
    ],
  });
  if (!parsed.ok) throw new Error(parsed.error);
  return new StaticKeySet(parsed.jwks);
}
const keys = registered();

/** RFC 7523 §3 claims of a valid assertion by CLIENT at NOW, overridable claim by claim (undefined removes one). */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const all: Record<string, unknown> = {
    iss: CLIENT,
    sub: CLIENT,
    aud: ISSUER,
    iat: NOW,
    exp: NOW + 60,
    jti: randomBytes(12).toString('base64url'),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

interface Job {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  jwk?: object;
  secret?: string;
  unsecured?: boolean;
}

/** Signs every job with jose in one child process. */
function joseSign(jobs: Job[]): Promise<string[]> {
  const script = join(__dirname, 'fixtures', 'jose-sign.mjs');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, JSON.stringify(jobs)], { timeout: 20_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`jose-sign failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as string[]);
    });
  });
}

const rs256 = (payload = claims(), header: Record<string, unknown> = {}): Job => ({
  jwk: privateJwk(rsa),
  header: { alg: 'RS256', kid: 'rsa-1', ...header },
  payload,
});

/** The assertions of the tests below, signed once. */
const JOBS = {
  rs256: rs256(),
  ps256: { jwk: privateJwk(rsa), header: { alg: 'PS256', kid: 'rsa-1' }, payload: claims() },
  es256: { jwk: privateJwk(ec), header: { alg: 'ES256', kid: 'ec-1', typ: 'JWT' }, payload: claims() },
  ps256Only: { jwk: privateJwk(pssOnly), header: { alg: 'PS256', kid: 'pss-1' }, payload: claims() },
  rs256WithPssOnlyKey: { jwk: privateJwk(pssOnly), header: { alg: 'RS256', kid: 'pss-1' }, payload: claims() },
  noKid: { jwk: privateJwk(ec), header: { alg: 'ES256' }, payload: claims() },
  noKidAmbiguous: { jwk: privateJwk(rsa), header: { alg: 'PS256' }, payload: claims() },
  audArray: rs256(claims({ aud: ['https://someone-else.test', TOKEN_ENDPOINT] })),
  audTokenEndpoint: rs256(claims({ aud: TOKEN_ENDPOINT })),
  noIat: rs256(claims({ iat: undefined })),
  wrongAud: rs256(claims({ aud: 'https://another-issuer.test' })),
  wrongAudArray: rs256(claims({ aud: ['https://another-issuer.test', 42] })),
  expired: rs256(claims({ iat: NOW - 600, exp: NOW - 60 })),
  expiredWithinTolerance: rs256(claims({ iat: NOW - 600, exp: NOW - 2 })),
  tooFarAhead: rs256(claims({ exp: NOW + 3600 })),
  atMaxLifetime: rs256(claims({ exp: NOW + 300 })),
  noExp: rs256(claims({ exp: undefined })),
  noJti: rs256(claims({ jti: undefined })),
  emptyJti: rs256(claims({ jti: '' })),
  numericJti: rs256(claims({ jti: 12345 })),
  longJti: rs256(claims({ jti: 'j'.repeat(257) })),
  unknownKid: rs256(claims(), { kid: 'not-registered' }),
  foreignKey: { jwk: privateJwk(foreign), header: { alg: 'RS256', kid: 'rsa-1' }, payload: claims() },
  hs256: {
    secret: Buffer.from(rsa.publicKey.export({ format: 'pem', type: 'spki' })).toString('base64url'),
    header: { alg: 'HS256', kid: 'rsa-1' },
    payload: claims(),
  },
  hs256Jwk: { secret: Buffer.from(JSON.stringify(publicJwk(rsa))).toString('base64url'), header: { alg: 'HS256' }, payload: claims() },
  none: { unsecured: true, header: {}, payload: claims() },
  rs512: { jwk: privateJwk(rsa), header: { alg: 'RS512', kid: 'rsa-1' }, payload: claims() },
  issNotSub: rs256(claims({ sub: 'client-2' })),
  otherClient: rs256(claims({ iss: 'client-2', sub: 'client-2' })),
  futureIat: rs256(claims({ iat: NOW + 60, exp: NOW + 120 })),
  iatWithinTolerance: rs256(claims({ iat: NOW + 3 })),
  stringIat: rs256(claims({ iat: 'now' })),
  futureNbf: rs256(claims({ nbf: NOW + 60 })),
  crit: rs256(claims(), { crit: ['urn:example:ext'], 'urn:example:ext': true }),
} satisfies Record<string, Job>;

let signed: Record<keyof typeof JOBS, string>;
beforeAll(async () => {
  const names = Object.keys(JOBS) as (keyof typeof JOBS)[];
  const tokens = await joseSign(names.map((n) => JOBS[n]));
  signed = Object.fromEntries(names.map((n, i) => [n, tokens[i]])) as Record<keyof typeof JOBS, string>;
});

const check = (overrides: Partial<ClientAssertionCheck> = {}): ClientAssertionCheck => ({
  clientId: CLIENT,
  keys,
  audiences: [ISSUER, TOKEN_ENDPOINT],
  now: NOW,
  ...overrides,
});

/** The reason verifyClientAssertion refuses with (and that it is an AssertionRejected with a message). */
async function reasonOf(assertion: string, c: ClientAssertionCheck = check()): Promise<string> {
  try {
    await verifyClientAssertion(assertion, c);
    return 'accepted';
  } catch (err) {
    if (!(err instanceof AssertionRejected)) throw err;
    expect(err.message).toMatch(/^The client/);
    return err.reason;
  }
}

test('RFC 7523 §2.2: the assertion type and the algorithms', () => {
  expect(CLIENT_ASSERTION_TYPE).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  expect(ASSERTION_ALGORITHMS).toEqual(['RS256', 'PS256', 'ES256']);
});

describe('RFC 7523 §3: accepted assertions', () => {
  test.each(['rs256', 'ps256', 'es256', 'ps256Only'] as const)(
    '%s, signed by jose with a registered key, is accepted: its jti and exp come back',
    async (name) => {
      const payload = JOBS[name].payload;
      await expect(verifyClientAssertion(signed[name], check())).resolves.toEqual({ jti: payload.jti, exp: payload.exp });
    },
  );

  test('RFC 7523 §3 item 3: aud may be the token endpoint URL, or an array naming one of the audiences', async () => {
    expect(await reasonOf(signed.audTokenEndpoint)).toBe('accepted');
    expect(await reasonOf(signed.audArray)).toBe('accepted');
  });

  test('RFC 7515 §4.1.4: without a kid, the one registered key for the algorithm is used', async () => {
    expect(await reasonOf(signed.noKid)).toBe('accepted');
  });

  test('iat is optional (RFC 7523 §3 item 6); within the clock tolerance a slightly future iat, and a just-expired exp, pass', async () => {
    expect(await reasonOf(signed.noIat)).toBe('accepted');
    expect(await reasonOf(signed.iatWithinTolerance)).toBe('accepted');
    expect(await reasonOf(signed.expiredWithinTolerance)).toBe('accepted');
    expect(await reasonOf(signed.atMaxLifetime)).toBe('accepted');
  });

  test('`now` defaults to the clock: against it, an assertion made for NOW (in 2030) lives too long', async () => {
    expect(await reasonOf(signed.rs256, check({ now: undefined }))).toBe('lifetime_too_long');
  });
});

describe('RFC 7523 §3: refused assertions', () => {
  test.each([
    ['item 3: aud naming another server', 'wrongAud', 'wrong_audience'],
    ['item 3: an aud array naming none of ours', 'wrongAudArray', 'wrong_audience'],
    ['item 4: expired', 'expired', 'expired'],
    ['item 4: exp further ahead than the longest lifetime (300 s)', 'tooFarAhead', 'lifetime_too_long'],
    ['item 4: no exp', 'noExp', 'malformed'],
    ['item 7: no jti', 'noJti', 'missing_jti'],
    ['item 7: an empty jti', 'emptyJti', 'missing_jti'],
    ['item 7: a jti that is not a string', 'numericJti', 'missing_jti'],
    ['item 7: a jti of 257 characters', 'longJti', 'missing_jti'],
    ['item 5: a kid not in the set', 'unknownKid', 'unknown_key'],
    ['item 5: the kid of a registered key, signed with a key from another set', 'foreignKey', 'bad_signature'],
    ['item 5: a key registered for PS256 only, used for RS256', 'rs256WithPssOnlyKey', 'unknown_key'],
    ['item 5: no kid and two RSA keys usable for PS256', 'noKidAmbiguous', 'unknown_key'],
    ['RFC 8725 §3.1: HS256 keyed with the public key PEM', 'hs256', 'unsupported_algorithm'],
    ['RFC 8725 §3.1: HS256 keyed with the public JWK', 'hs256Jwk', 'unsupported_algorithm'],
    ['RFC 8725 §3.1: alg none (empty signature: not a JWS to us)', 'none', 'malformed'],
    ['RS512', 'rs512', 'unsupported_algorithm'],
    ['items 1 and 2: iss is the client but sub is not', 'issNotSub', 'wrong_subject'],
    ['item 1: iss and sub name another client', 'otherClient', 'wrong_issuer'],
    ['item 6: iat in the future', 'futureIat', 'not_yet_valid'],
    ['item 6: an iat that is not a number', 'stringIat', 'malformed'],
    ['item 5: nbf not reached', 'futureNbf', 'not_yet_valid'],
    ['RFC 7515 §4.1.11: a crit header', 'crit', 'unsupported_extension'],
  ] as const)('%s', async (_what, name, reason) => {
    expect(await reasonOf(signed[name])).toBe(reason);
  });

  test('alg none with something in the signature part is unsupported_algorithm', async () => {
    expect(await reasonOf(`${signed.none}c2ln`)).toBe('unsupported_algorithm');
  });

  test('longer than maxLength (default 4096) is too_long, before anything is read', async () => {
    expect(await reasonOf(signed.rs256, check({ maxLength: 100 }))).toBe('too_long');
    expect(await reasonOf(`${signed.rs256}${'A'.repeat(4096)}`)).toBe('too_long');
  });

  test('garbage is malformed', async () => {
    for (const garbage of ['', 'x', 'a.b.c', `${b64json({ alg: 'RS256' })}.bm90IGpzb24.c2ln`])
      expect(await reasonOf(garbage)).toMatch(/malformed|bad_signature/);
  });

  test('a longer lifetime may be allowed (maxLifetimeSeconds)', async () => {
    expect(await reasonOf(signed.tooFarAhead, check({ maxLifetimeSeconds: 3600 }))).toBe('accepted');
  });

  test('keys that cannot be fetched (a RemoteFetchError) are keys_unavailable, with the cause; any other failure of the keys passes through', async () => {
    const down: ClientKeys = { keyFor: () => Promise.reject(new RemoteFetchError('timeout', 'https://client.test/jwks: no connection within 2000 ms')) };
    const err: unknown = await verifyClientAssertion(signed.rs256, check({ keys: down })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AssertionRejected);
    expect(err).toMatchObject({ reason: 'keys_unavailable', cause: expect.objectContaining({ reason: 'timeout' }) });
    const bug = new TypeError('bug');
    await expect(verifyClientAssertion(signed.rs256, check({ keys: { keyFor: () => Promise.reject(bug) } }))).rejects.toBe(bug);
  });

  test('the unsupported algorithms never reach a key lookup', async () => {
    const lookups: unknown[] = [];
    const counting: ClientKeys = { keyFor: (kid, alg) => (lookups.push({ kid, alg }), keys.keyFor(kid, alg)) };
    for (const name of ['hs256', 'hs256Jwk', 'rs512', 'crit'] as const) await reasonOf(signed[name], check({ keys: counting }));
    expect(lookups).toEqual([]);
  });
});

describe('RFC 7521 §4.2: assertionIssuer reads iss without verifying (to find the client)', () => {
  test('the iss of an assertion, whatever its signature', () => {
    expect(assertionIssuer(signed.rs256)).toBe(CLIENT);
    expect(assertionIssuer(signed.otherClient)).toBe('client-2');
    expect(assertionIssuer(signed.foreignKey)).toBe(CLIENT);
  });

  test('null when there is no string iss, or no JWS at all, or it is too long', () => {
    const unsigned = (payload: unknown) => `${b64json({ alg: 'RS256' })}.${b64json(payload)}.c2ln`;
    for (const assertion of [
      '',
      'x.y.z',
      unsigned({ sub: CLIENT }),
      unsigned({ iss: 7 }),
      unsigned({ iss: '' }),
      unsigned([CLIENT]),
      `${b64json({})}.bm90.c2ln`,
    ]) {
      expect(assertionIssuer(assertion)).toBeNull();
    }
    expect(assertionIssuer(unsigned({ iss: CLIENT, pad: 'x'.repeat(5000) }))).toBeNull();
    expect(assertionIssuer(unsigned({ iss: CLIENT, pad: 'x'.repeat(5000) }), 10_000)).toBe(CLIENT);
  });
});
