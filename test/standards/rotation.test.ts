/**
 * Key rotation under traffic (RFC 7517 key sets, RFC 8414 jwks_uri): an issuer and an API with a
 * remote guard, both real servers; the key rotates while tokens keep being issued and used, and no
 * guard is restarted.
 */
import { API_AUDIENCE } from '../support/constants';
import { eventually, sleep } from '../support/time';
import { countingFetch, httpRequest } from '../support/http';
import { callApi, issueToken } from '../support/oauth';
import { claimsFrom, kidOf, signJws } from '../support/jwt';
import { seedClient, type SeededClient } from '../support/clients';
import { startIssuer, startRemoteApi, type TestApi, type TestIssuer } from '../support/servers';
import { cliKeyRotate } from '../support/cli';
import { runInterop } from '../support/interop';

interface Sample {
  kid: string;
  fresh: boolean;
  status: number;
  why?: string | null;
}

/**
 * Keeps issuing tokens and calling the API with each new token and with an older one, until stopped.
 * Every answer is recorded.
 */
function runTraffic(issuer: TestIssuer, api: TestApi, client: SeededClient) {
  let stopped = false;
  const samples: Sample[] = [];
  const held: string[] = [];
  const done = (async () => {
    while (!stopped) {
      const token = await issueToken(issuer, client);
      held.push(token);
      const older = held[Math.floor(Math.random() * held.length)];
      const [a, b] = await Promise.all([callApi(`${api.origin}/reports`, token), callApi(`${api.origin}/reports`, older)]);
      samples.push(
        { kid: kidOf(token), fresh: true, status: a.status, ...(a.status === 200 ? {} : { why: a.headers.get('www-authenticate') }) },
        { kid: kidOf(older), fresh: false, status: b.status, ...(b.status === 200 ? {} : { why: b.headers.get('www-authenticate') }) },
      );
      await sleep(10);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

async function publishedKids(issuer: TestIssuer): Promise<string[]> {
  return ((await httpRequest(`${issuer.endpoints}/jwks`)).json().keys as Array<{ kid: string }>).map((k) => k.kid);
}

describe('key rotation under traffic, remote guard in JWKS mode', () => {
  let issuer: TestIssuer;
  let api: TestApi;
  afterEach(async () => {
    await api?.stop();
    expect(issuer.serverErrors).toEqual([]);
    await issuer.close();
  });

  test('rotateKey({leadSeconds: 0}): old and new tokens both keep validating; the unknown kid is fetched once', async () => {
    issuer = await startIssuer({ tokenLifetime: 60 });
    const counter = countingFetch();
    api = await startRemoteApi(issuer, { fetch: counter.fetch, jwksCooldown: 0 });
    const client = await seedClient(issuer.auth);
    const first = await issueToken(issuer, client);
    const oldKid = kidOf(first);
    const traffic = runTraffic(issuer, api, client);
    await eventually(async () => (traffic.samples.length >= 10 ? true : undefined));
    const added = await issuer.auth.rotateKey({ leadSeconds: 0 });
    await eventually(async () => (traffic.samples.filter((s) => s.kid === added.kid).length >= 10 ? true : undefined));
    await traffic.stop();

    expect(traffic.samples.filter((s) => s.status !== 200)).toEqual([]);
    expect(new Set(traffic.samples.map((s) => s.kid))).toEqual(new Set([oldKid, added.kid]));
    expect(traffic.samples.some((s) => s.kid === oldKid && !s.fresh)).toBe(true);
    expect((await publishedKids(issuer)).sort()).toEqual([oldKid, added.kid].sort());
    expect(counter.count('/jwks')).toBe(2); // first load + one refetch for the new kid

    // A third-party validator (jose's remote JWK set) reads the same set: both generations verify.
    const out = await runInterop('jose-verify.mjs', { issuer: issuer.issuer, audience: API_AUDIENCE, tokens: [first, await issueToken(issuer, client)] });
    expect(out.results.map((r: { ok: boolean; protectedHeader?: { kid: string } }) => [r.ok, r.protectedHeader?.kid])).toEqual([
      [true, oldKid],
      [true, added.kid],
    ]);
  });

  test('lead time: the guard holds the new key before it signs, so the switch costs no refetch', async () => {
    issuer = await startIssuer({ tokenLifetime: 60 });
    const counter = countingFetch();
    // A long cooldown: an unknown kid could not be fetched in time. The lead time must make that unnecessary.
    api = await startRemoteApi(issuer, { fetch: counter.fetch, jwksCooldown: 3600, jwksMaxAge: 3600 });
    const client = await seedClient(issuer.auth);
    const oldKid = kidOf(await issueToken(issuer, client));
    const added = await issuer.auth.rotateKey({ leadSeconds: 3 });
    expect(added.status).toBe('pending');
    expect((await publishedKids(issuer)).sort()).toEqual([oldKid, added.kid].sort());

    const traffic = runTraffic(issuer, api, client); // the guard's first fetch sees both keys
    await eventually(async () => (traffic.samples.filter((s) => s.kid === added.kid).length >= 10 ? true : undefined), 100);
    await traffic.stop();

    expect(traffic.samples.filter((s) => s.status !== 200)).toEqual([]);
    expect(traffic.samples.some((s) => s.kid === oldKid)).toBe(true);
    expect(counter.count('/jwks')).toBe(1);
  });

  test('garbage tokens keep the cooldown busy, yet a lead time longer than the cooldown means no valid token is refused', async () => {
    issuer = await startIssuer({ tokenLifetime: 60 });
    api = await startRemoteApi(issuer, { jwksCooldown: 1 });
    const client = await seedClient(issuer.auth);
    const oldKid = kidOf(await issueToken(issuer, client));
    const garbageKey = (await issuer.auth.registry.listKeys())[0].privateKeyPem; // a real key under a wrong kid: refused
    let stopGarbage = false;
    const garbageStatuses: number[] = [];
    const garbage = (async () => {
      for (let i = 0; !stopGarbage; i++) {
        const token = signJws(garbageKey, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: `garbage-${i}` }, claimsFrom(issuer.issuer, client.clientId));
        garbageStatuses.push((await callApi(`${api.origin}/reports`, token)).status);
        await sleep(20);
      }
    })();
    const traffic = runTraffic(issuer, api, client);
    const added = await issuer.auth.rotateKey({ leadSeconds: 3 });
    await eventually(async () => (traffic.samples.filter((s) => s.kid === added.kid).length >= 10 ? true : undefined), 100);
    await traffic.stop();
    stopGarbage = true;
    await garbage;
    expect(traffic.samples.filter((s) => s.status !== 200)).toEqual([]);
    expect(traffic.samples.some((s) => s.kid === oldKid)).toBe(true);
    expect(garbageStatuses.length).toBeGreaterThan(0);
    expect(garbageStatuses.every((s) => s === 401)).toBe(true);
  });

  test('`ccgate key rotate` (the built CLI, another process on the registry file) is followed without restart', async () => {
    issuer = await startIssuer({ tokenLifetime: 60 });
    api = await startRemoteApi(issuer, { jwksCooldown: 1 });
    const client = await seedClient(issuer.auth);
    const oldKid = kidOf(await issueToken(issuer, client));
    const traffic = runTraffic(issuer, api, client);
    await eventually(async () => (traffic.samples.length >= 6 ? true : undefined));
    const added = await cliKeyRotate(issuer.dbPath, '0');
    expect(added.status).toBe('active');
    // With lead 0 and a 1 s cooldown, new-kid tokens arriving within 1 s of the guard's last fetch are
    // refused (that is what the lead time is for); once the cooldown has passed, one refetch fixes it.
    const firstAccepted = () => traffic.samples.findIndex((s) => s.kid === added.kid && s.status === 200);
    await eventually(async () => (firstAccepted() >= 0 && traffic.samples.length - firstAccepted() >= 12 ? true : undefined));
    await traffic.stop();
    const firstNew = traffic.samples.findIndex((s) => s.kid === added.kid && s.status === 200);
    expect(firstNew).toBeGreaterThanOrEqual(0);
    expect(traffic.samples.slice(firstNew).filter((s) => s.status !== 200)).toEqual([]);
    expect(traffic.samples.filter((s) => s.kid === oldKid && s.status !== 200)).toEqual([]);
  });

  test("after the retired key's removeAfter, it leaves the JWKS and the remote guard stops accepting it", async () => {
    issuer = await startIssuer({ tokenLifetime: 2 });
    api = await startRemoteApi(issuer, { jwksCooldown: 0, jwksMaxAge: 0 });
    const client = await seedClient(issuer.auth);
    const oldKid = kidOf(await issueToken(issuer, client));
    const oldKey = (await issuer.auth.registry.listKeys()).find((k) => k.kid === oldKid)!;
    await issuer.auth.rotateKey({ leadSeconds: 0 });
    const retired = (await issuer.auth.registry.listKeys()).find((k) => k.kid === oldKid)!;
    expect(retired.status).toBe('retired');
    const removeAfter = retired.removeAfter!;

    // A token the old key signed that outlives removeAfter (forged with the real old private key),
    // to see which keys the guard still accepts.
    const probe = signJws(
      oldKey.privateKeyPem,
      'RS256',
      { alg: 'RS256', typ: 'at+jwt', kid: oldKid },
      claimsFrom(issuer.issuer, client.clientId, { exp: removeAfter + 3600 }),
    );
    expect((await callApi(`${api.origin}/reports`, probe)).status).toBe(200);
    expect(await publishedKids(issuer)).toContain(oldKid);

    const spy = jest.spyOn(Date, 'now').mockImplementation(() => removeAfter * 1000 + 500);
    try {
      expect(await publishedKids(issuer)).not.toContain(oldKid);
      const fresh = await issueToken(issuer, client);
      expect((await callApi(`${api.origin}/reports`, fresh)).status).toBe(200);
      const res = await callApi(
        `${api.origin}/reports`,
        signJws(
          oldKey.privateKeyPem,
          'RS256',
          { alg: 'RS256', typ: 'at+jwt', kid: oldKid },
          claimsFrom(issuer.issuer, client.clientId, { exp: removeAfter + 3600 }),
        ),
      );
      expect(res.status).toBe(401);
    } finally {
      spy.mockRestore();
    }
  });
});
