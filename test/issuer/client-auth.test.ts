/** RFC 6749 §2.3 client authentication at the token endpoint. */
import request from 'supertest';
import { basic, basicBytes, basicForm, basicRaw, expectTokenError, parseChallenge, tokenRequest } from '../support/oauth';
import { seedClient } from '../support/clients';
import { bcryptRuns, watchBcryptPools } from '../support/hasher';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
let clientId: string;
let clientSecret: string;
beforeAll(async () => {
  server = createTestServer();
  ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read']));
});
afterAll(() => server.close());

const token = () => request(server.app).post('/oauth/token').type('form');

function expectBasicChallenge(res: request.Response): void {
  const challenge = parseChallenge(res.headers['www-authenticate']);
  expect(challenge.scheme).toBe('Basic');
  expect(challenge.params.realm).toBe('ccgate');
}

test('RFC 6749 §2.3.1: client_secret_basic works', async () => {
  const res = await token().set('Authorization', basic(clientId, clientSecret)).send({ grant_type: 'client_credentials' });
  expect(res.status).toBe(200);
  expect(res.body.access_token).toEqual(expect.any(String));
});

test('RFC 6749 §2.3.1: client_secret_post works (for a client registered with it)', async () => {
  const post = await seedClient(server.auth, ['reports:read'], { authMethod: 'client_secret_post' });
  const res = await token().send({ grant_type: 'client_credentials', client_id: post.clientId, client_secret: post.clientSecret });
  expect(res.status).toBe(200);
  expect(res.body.access_token).toEqual(expect.any(String));
});

test('RFC 7617 §2: the Basic scheme name is case-insensitive', async () => {
  const header = basic(clientId, clientSecret).replace(/^Basic/, 'bAsIc');
  const res = await token().set('Authorization', header).send({ grant_type: 'client_credentials' });
  expect(res.status).toBe(200);
});

test('RFC 6749 §2.3: Basic and body credentials at once is invalid_request', async () => {
  const res = await token()
    .set('Authorization', basic(clientId, clientSecret))
    .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
  expectTokenError(res, 400, 'invalid_request');
  // Even a body client_secret alone next to Basic counts as a second method.
  const res2 = await token().set('Authorization', basic(clientId, clientSecret)).send({ grant_type: 'client_credentials', client_secret: clientSecret });
  expectTokenError(res2, 400, 'invalid_request');
});

test('RFC 6749 §5.2: no client authentication at all is 401 invalid_client with a Basic challenge', async () => {
  const res = await token().send({ grant_type: 'client_credentials' });
  expectTokenError(res, 401, 'invalid_client');
  expectBasicChallenge(res);
});

test('RFC 6750 §2.1 is not client auth: a Bearer Authorization header at the token endpoint is 401 invalid_client', async () => {
  const res = await token().set('Authorization', 'Bearer abc').send({ grant_type: 'client_credentials' });
  expectTokenError(res, 401, 'invalid_client');
});

test('RFC 6749 §5.2: a wrong secret and an unknown client get identical status, body and challenge (Basic)', async () => {
  const wrong = await token()
    .set('Authorization', basic(clientId, `${clientSecret}x`))
    .send({ grant_type: 'client_credentials' });
  const unknown = await token().set('Authorization', basic('no-such-client', clientSecret)).send({ grant_type: 'client_credentials' });
  expectTokenError(wrong, 401, 'invalid_client');
  expectTokenError(unknown, 401, 'invalid_client');
  expect(unknown.body).toEqual(wrong.body);
  expect(unknown.headers['www-authenticate']).toBe(wrong.headers['www-authenticate']);
  expectBasicChallenge(wrong);
});

test('RFC 6749 §5.2: a wrong secret and an unknown client get identical status and body (post)', async () => {
  const wrong = await token().send({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'definitely-not-it' });
  const unknown = await token().send({ grant_type: 'client_credentials', client_id: 'no-such-client', client_secret: 'definitely-not-it' });
  expectTokenError(wrong, 401, 'invalid_client');
  expect(unknown.status).toBe(wrong.status);
  expect(unknown.body).toEqual(wrong.body);
  expect(unknown.headers['www-authenticate']).toBe(wrong.headers['www-authenticate']);
});

test('RFC 6749 §2.3.1: a confidential client sending only its client_id is invalid_client', async () => {
  const res = await token().send({ grant_type: 'client_credentials', client_id: clientId });
  expectTokenError(res, 401, 'invalid_client');
});

test('RFC 6749 §2.3.1: client_secret without client_id is invalid_client', async () => {
  const res = await token().send({ grant_type: 'client_credentials', client_secret: clientSecret });
  expectTokenError(res, 401, 'invalid_client');
});

test('RFC 6749 §5.2: an empty secret in Basic is invalid_client', async () => {
  const res = await token().set('Authorization', basicRaw(clientId, '')).send({ grant_type: 'client_credentials' });
  expectTokenError(res, 401, 'invalid_client');
});

test.each([
  ['no colon', basicBytes('justanid')],
  ['an empty client id', basicBytes(':secret')],
  ['bad padding', 'Basic abc'],
  ['nothing after the scheme', 'Basic'],
  ['characters outside base64', 'Basic !!!'],
])('RFC 6749 §2.3.1: Basic credentials with %s are a JSON 400 invalid_request', async (_label, header) => {
  const res = await token().set('Authorization', header).send({ grant_type: 'client_credentials' });
  expectTokenError(res, 400, 'invalid_request');
});

test('RFC 6749 §2.3.1: Basic credentials that are not valid form-urlencoding (%zz) are read as sent: an unknown client, 401 invalid_client', async () => {
  const res = await token().set('Authorization', basicBytes('%zz:secret-of-nobody-at-all')).send({ grant_type: 'client_credentials' });
  expectTokenError(res, 401, 'invalid_client');
  expectBasicChallenge(res);
});

test('RFC 6749 §5.2: a disabled client is invalid_client, and works again once re-enabled', async () => {
  const c = await seedClient(server.auth, ['reports:read']);
  await server.auth.registry.setClientEnabled(c.clientId, false);
  const basicRes = await token().set('Authorization', basic(c.clientId, c.clientSecret)).send({ grant_type: 'client_credentials' });
  expectTokenError(basicRes, 401, 'invalid_client');
  const postRes = await token().send({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret });
  expectTokenError(postRes, 401, 'invalid_client');
  await server.auth.registry.setClientEnabled(c.clientId, true);
  const again = await token().set('Authorization', basic(c.clientId, c.clientSecret)).send({ grant_type: 'client_credentials' });
  expect(again.status).toBe(200);
});

test('RFC 6749 §5.2: a client disabled after a successful (remembered) authentication is refused at once', async () => {
  const c = await seedClient(server.auth, ['reports:read']);
  const ok = await token().set('Authorization', basic(c.clientId, c.clientSecret)).send({ grant_type: 'client_credentials' });
  expect(ok.status).toBe(200);
  await server.auth.registry.setClientEnabled(c.clientId, false);
  const res = await token().set('Authorization', basic(c.clientId, c.clientSecret)).send({ grant_type: 'client_credentials' });
  expectTokenError(res, 401, 'invalid_client');
});

test('RFC 6749 §5.2: a deleted client is invalid_client', async () => {
  const c = await seedClient(server.auth, ['reports:read']);
  const ok = await token().set('Authorization', basic(c.clientId, c.clientSecret)).send({ grant_type: 'client_credentials' });
  expect(ok.status).toBe(200);
  await server.auth.registry.deleteClient(c.clientId);
  const res = await token().set('Authorization', basic(c.clientId, c.clientSecret)).send({ grant_type: 'client_credentials' });
  expectTokenError(res, 401, 'invalid_client');
});

test('RFC 6749 §4.4: a public client (client_id only) is unauthorized_client', async () => {
  await server.auth.registry.createGroup('public-g', ['reports:read']);
  const { client } = await server.auth.registry.createClient({ name: 'spa', type: 'public', groups: ['public-g'] });
  const res = await token().send({ grant_type: 'client_credentials', client_id: client.clientId });
  expectTokenError(res, 400, 'unauthorized_client');
});

test('RFC 6749 §5.2: a confidential client not allowed the client_credentials grant is unauthorized_client', async () => {
  await server.auth.registry.createGroup('no-grant-g', ['reports:read']);
  const { client, clientSecret: secret } = await server.auth.registry.createClient({ name: 'no grant', groups: ['no-grant-g'], grantTypes: [] });
  const res = await token()
    .set('Authorization', basic(client.clientId, secret as string))
    .send({ grant_type: 'client_credentials' });
  expectTokenError(res, 400, 'unauthorized_client');
});

test('RFC 6749 §2.3.1: a public client presenting a secret is invalid_client', async () => {
  const { client } = await server.auth.registry.createClient({ name: 'spa2', type: 'public' });
  const res = await token().send({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: 'some-made-up-secret' });
  expectTokenError(res, 401, 'invalid_client');
});

test('RFC 6749 §5.2: a disabled public client is invalid_client, not unauthorized_client', async () => {
  const { client } = await server.auth.registry.createClient({ name: 'spa3', type: 'public' });
  await server.auth.registry.setClientEnabled(client.clientId, false);
  const res = await token().send({ grant_type: 'client_credentials', client_id: client.clientId });
  expectTokenError(res, 401, 'invalid_client');
});

describe('RFC 6749 §2.3.1: caller-chosen secrets with special characters', () => {
  const special = 'p:a+s%s w:rd 100% +fun+ é';
  let id: string;
  let postId: string;
  beforeAll(async () => {
    await server.auth.registry.createGroup('special-g', ['reports:read']);
    ({
      client: { clientId: id },
    } = await server.auth.registry.createClient({ name: 'special', groups: ['special-g'], secret: special }));
    ({
      client: { clientId: postId },
    } = await server.auth.registry.createClient({ name: 'special post', groups: ['special-g'], secret: special, authMethod: 'client_secret_post' }));
  });

  test('Basic with each part form-urlencoded (spaces as +) works', async () => {
    const res = await token().set('Authorization', basicForm(id, special)).send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
  });

  test('Basic with each part percent-encoded (encodeURIComponent) works', async () => {
    const res = await token().set('Authorization', basic(id, special)).send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
  });

  test('client_secret_post with the secret form-encoded in the body works', async () => {
    const body = `grant_type=client_credentials&client_id=${encodeURIComponent(postId)}&client_secret=${encodeURIComponent(special).replace(/%20/g, '+')}`;
    const res = await token().send(body);
    expect(res.status).toBe(200);
  });

  test('sent raw (unencoded, as curl -u does) it works too: "% w" is not valid form-urlencoding, so the secret is read as sent', async () => {
    const res = await token().set('Authorization', basicRaw(id, special)).send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
  });
});

describe('RFC 6749 §2.3.1 and clients that do not form-encode Basic credentials (curl -u, Python requests): both readings', () => {
  // Every character form-encoding touches. Raw, "%41" and "+" are valid form-urlencoding that decodes
  // to something else ("pAss word..."), so the RFC reading fails and the raw one must be tried.
  const secret = 'p%41ss+word:/=&~ 2024 x';
  // Raw, a trailing "%" is not form-urlencoding at all: the raw reading is the only one.
  const trailing = 'ends-with-a-percent-sign-%';
  let id: string;
  let trailingId: string;
  beforeAll(async () => {
    await server.auth.registry.createGroup('reserved-g', ['reports:read']);
    id = (await server.auth.registry.createClient({ name: 'reserved', groups: ['reserved-g'], secret })).client.clientId;
    trailingId = (await server.auth.registry.createClient({ name: 'trailing', groups: ['reserved-g'], secret: trailing })).client.clientId;
  });
  const ask = (header: string) => token().set('Authorization', header).send({ grant_type: 'client_credentials' });

  test.each([
    ['form-urlencoded (RFC 6749 §2.3.1: spaces as +)', basicForm],
    ['percent-encoded (encodeURIComponent)', basic],
    ['raw (curl -u, Python requests HTTPBasicAuth)', basicRaw],
  ])('a secret with %% + : / = & ~ and a space, sent %s, gets a token', async (_label, encode) => {
    const res = await ask(encode(id, secret));
    expect(res.status).toBe(200);
    expect(res.body.access_token).toEqual(expect.any(String));
  });

  test.each([
    ['form-urlencoded', basicForm],
    ['raw', basicRaw],
  ])('a wrong secret sent %s is 401 invalid_client, and so is the decoded reading of the raw secret', async (_label, encode) => {
    for (const wrong of [`${secret}x`, 'pAss word:/=&~ 2024 x']) {
      const res = await ask(encode(id, wrong));
      expectTokenError(res, 401, 'invalid_client');
      expectBasicChallenge(res);
    }
  });

  test('a secret whose raw form is not valid form-urlencoding (a trailing %) works raw, and encoded', async () => {
    expect((await ask(basicRaw(trailingId, trailing))).status).toBe(200);
    expect((await ask(basicForm(trailingId, trailing))).status).toBe(200);
    expectTokenError(await ask(basicRaw(trailingId, `${trailing}%`)), 401, 'invalid_client');
  });

  test('the raw reading costs what the request implies, known client or not: the same bcrypt runs for a wrong secret and an unknown id', async () => {
    const bcryptCalls = watchBcryptPools();
    try {
      // Both readings differ ("+" and "%41"): two candidates either way.
      expectTokenError(await ask(basicRaw(id, 'a%41+wrong-secret-xxxxx')), 401, 'invalid_client');
      expectTokenError(await ask(basicRaw('AAAAAAAAAAAAAAAAAAAAAA', 'a%41+wrong-secret-xxxxx')), 401, 'invalid_client');
      const [known, unknown] = bcryptCalls.calls;
      expect(bcryptCalls.calls).toHaveLength(2);
      expect(known.candidates).toEqual(['aA wrong-secret-xxxxx', 'a%41+wrong-secret-xxxxx']);
      expect(bcryptRuns(unknown)).toBe(bcryptRuns(known));
      expect(bcryptRuns(known)).toBe(2);
    } finally {
      bcryptCalls.restore();
    }
  });
});

describe('RFC 6749 §2.3.1 / RFC 7617 §2: a raw secret containing ":" is split at the first colon', () => {
  const colonSecret = 'abc:def:ghi:jkl-mno-pqr';
  let id: string;
  beforeAll(async () => {
    await server.auth.registry.createGroup('colon-g', ['reports:read']);
    ({
      client: { clientId: id },
    } = await server.auth.registry.createClient({ name: 'colon', groups: ['colon-g'], secret: colonSecret }));
  });

  test('sent raw (no encoding) it works', async () => {
    const res = await token().set('Authorization', basicRaw(id, colonSecret)).send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
  });

  test('sent encoded (%3A) it works', async () => {
    const res = await token().set('Authorization', basic(id, colonSecret)).send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
  });

  test('a prefix of it (cut at a later colon) is refused', async () => {
    const res = await token().set('Authorization', basicRaw(id, 'abc:def')).send({ grant_type: 'client_credentials' });
    expectTokenError(res, 401, 'invalid_client');
  });
});

describe('RFC 6749 §2.3.1: multibyte secrets', () => {
  test('a UTF-8 secret works over Basic and post', async () => {
    const secret = 'pässwörd-日本語-秘密';
    await server.auth.registry.createGroup('utf8-g', ['reports:read']);
    const { client } = await server.auth.registry.createClient({ name: 'utf8', groups: ['utf8-g'], secret });
    const { client: post } = await server.auth.registry.createClient({ name: 'utf8 post', groups: ['utf8-g'], secret, authMethod: 'client_secret_post' });
    expect((await token().set('Authorization', basic(client.clientId, secret)).send({ grant_type: 'client_credentials' })).status).toBe(200);
    expect((await token().send({ grant_type: 'client_credentials', client_id: post.clientId, client_secret: secret })).status).toBe(200);
  });
});

describe('secret rotation at the token endpoint', () => {
  test('RFC 6749 §2.3.1: with an overlap both secrets authenticate; without, only the new one', async () => {
    const c = await seedClient(server.auth, ['reports:read']);
    const old = c.clientSecret;
    const ask = (secret: string) => token().set('Authorization', basic(c.clientId, secret)).send({ grant_type: 'client_credentials' });
    expect((await ask(old)).status).toBe(200); // remembered now

    const { clientSecret: mid } = await server.auth.registry.rotateClientSecret(c.clientId, { overlapSeconds: 3600 });
    expect((await ask(old)).status).toBe(200);
    expect((await ask(mid as string)).status).toBe(200);

    const { clientSecret: last } = await server.auth.registry.rotateClientSecret(c.clientId);
    expectTokenError(await ask(old), 401, 'invalid_client');
    expectTokenError(await ask(mid as string), 401, 'invalid_client');
    expect((await ask(last as string)).status).toBe(200);
  });
});

test('RFC 6749 §5.2: error_description only ever uses %x20-21 / %x23-5B / %x5D-7E', async () => {
  const responses = await Promise.all([
    token().set('Authorization', basic(clientId, clientSecret)).send({ grant_type: 'client_credentials', client_id: clientId }),
    token().set('Authorization', basicBytes('nocolon')).send({ grant_type: 'client_credentials' }),
    token().set('Authorization', basic(clientId, clientSecret)).send({ grant_type: 'client_credentials', scope: 'a  b' }),
    token().set('Authorization', basic(clientId, clientSecret)).send('grant_type=client_credentials&"x\\=1&"x\\=2'),
    token().send({ grant_type: 'client_credentials' }),
    token().send({ grant_type: 'nope' }),
  ]);
  for (const res of responses) {
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body.error_description).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
  }
});

describe('bcrypt back-pressure', () => {
  test('RFC 6749 §5.2 / RFC 9110 §15.6.4: a full bcrypt queue answers 503 temporarily_unavailable with Retry-After', async () => {
    // One worker, nothing may wait, and a secret slow enough (cost 12) that the others arrive while it runs.
    const busy = createTestServer({ bcryptWorkers: 1, bcryptQueue: 0, bcryptCost: 12 });
    try {
      const c = await seedClient(busy.auth, ['reports:read']);
      const others = [await seedClient(busy.auth, ['reports:read']), await seedClient(busy.auth, ['reports:read'])];
      const sendAs = (k: { clientId: string; clientSecret: string }) => tokenRequest(busy.app, k.clientId, k.clientSecret);
      const send = () => sendAs(c);
      // Three different clients: three bcrypt compares, one worker, no queue.
      const results = await Promise.all([send(), sendAs(others[0]), sendAs(others[1])]);
      const statuses = results.map((r) => r.status).sort();
      expect(statuses[0]).toBe(200);
      expect(statuses).toContain(503);
      for (const r of results.filter((x) => x.status === 503)) {
        expectTokenError(r, 503, 'temporarily_unavailable');
        expect(r.headers['retry-after']).toMatch(/^\d+$/);
      }
      // Once the worker is free the same secret works (and is now remembered).
      expect((await send()).status).toBe(200);
    } finally {
      await busy.close();
    }
  });

  test('concurrent requests of one client with one secret share a single bcrypt compare (no 503 with no queue)', async () => {
    const busy = createTestServer({ bcryptWorkers: 1, bcryptQueue: 0, bcryptCost: 10 });
    try {
      const c = await seedClient(busy.auth, ['reports:read']);
      const send = () => tokenRequest(busy.app, c.clientId, c.clientSecret);
      const results = await Promise.all([send(), send(), send(), send()]);
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    } finally {
      await busy.close();
    }
  });
});
