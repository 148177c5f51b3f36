/**
 * Many instances on PostgreSQL, one registry: whatever is changed at one instance or by the CLI
 * takes effect at every instance within the staleness bound (README "How fresh are cached
 * answers?"): usually at once (NOTIFY), and never later than `maxStalenessMs` after the commit, even
 * while an instance's listening connection is lost. Every change is made after the caches of every
 * instance hold the old answer, so what is checked is that those caches were dropped. One issuer
 * identifier and one set of signing keys: a token from any instance validates at every instance and
 * at a remote guard, across rotations made anywhere. One failure throttle: failures counted at one
 * instance count at every other (RFC 6749 §10.10: spreading guesses over the instances must not
 * multiply the allowance). Propagation times are logged (INSTANCES_DEBUG=1), never asserted: the
 * deadline is the bound plus scheduling slack.
 */
import express from 'express';
import { remoteGuard, type FetchLike } from '../../lib';
import { ISSUER, METADATA_PATH } from '../support/constants';
import { listen, type Listening } from '../support/http';
import { note, seenEverywhere, useInstances } from '../support/instances';
import { decodeJwt, kidOf } from '../support/jwt';
import { callApi, expectInvalidClient, expectThrottled, responseOf } from '../support/oauth';
import { backends, describePostgres, terminate } from '../support/postgres';
import type { ChildServer } from '../support/processes';
import { eventually, median } from '../support/time';

jest.setTimeout(60_000);

/** The instances' staleness bound, and how long a test waits for it: the bound plus slack for a busy 2-core machine. */
const BOUND_MS = 500;
const DEADLINE_MS = BOUND_MS + 2000;
/** The throttle's failures per client id and address, and its window in seconds (both its defaults): Retry-After never exceeds the window. */
const MAX_FAILURES = 10;
const WINDOW_SECONDS = 300;

interface Client {
  id: string;
  secret: string;
}

describePostgres('many instances on one PostgreSQL database: one registry, alike at every instance', () => {
  // B (index 1) reaches the database through a proxy: its connections can be told apart, and silenced.
  // The throttle as by default, its per-address limit out of the way of the probes' failures (all from 127.0.0.1).
  const cluster = useInstances(3, {
    options: {
      postgres: { maxStalenessMs: BOUND_MS },
      throttle: { maxFailuresPerClientAndAddress: MAX_FAILURES, maxFailuresPerAddress: 1000, lockedDelayMs: 0 },
    },
    throughProxy: [1],
  });
  const measured: Record<'normal' | 'listenerDown' | 'resubscribed', number[]> = { normal: [], listenerDown: [], resubscribed: [] };

  const nodes = (): ChildServer[] => cluster.nodes;
  const [a, b, c] = [0, 1, 2].map((i) => (): ChildServer => cluster.nodes[i]);

  beforeAll(async () => {
    expect((await a().adminPost('/admin/groups', { name: 'readers', scopes: ['reports:read'] })).status).toBe(201);
  });
  afterAll(() => {
    for (const [kind, ms] of Object.entries(measured)) {
      if (ms.length > 0) note('propagation summary', { kind, samples: ms.length, medianMs: median(ms), maxMs: Math.max(...ms) });
    }
  });

  // ---- requests ----

  const newClient = async (at: ChildServer, groups = ['readers']): Promise<Client> => {
    const res = await at.adminPost('/admin/clients', { name: 'propagation client', groups });
    expect(res.status).toBe(201);
    return { id: res.body.client_id, secret: res.body.client_secret };
  };
  const tokenAnswer = (at: ChildServer, client: Client) => at.tokenRequest(client.id, client.secret);
  const token = async (at: ChildServer, client: Client): Promise<string> => {
    const res = await tokenAnswer(at, client);
    if (res.status !== 200) throw new Error(`token request at ${at.url}: ${res.status} ${res.text}`);
    return res.body.access_token as string;
  };
  const guardStatus = async (at: ChildServer, accessToken: string): Promise<number> =>
    (await at.get('/api/reports', { authorization: `Bearer ${accessToken}` })).status;
  /** Every instance answers `probe` with `expected` now (caches filled with the current state). */
  const everywhere = async <T>(probe: (at: ChildServer) => Promise<T>, expected: T): Promise<void> => {
    expect(await Promise.all(nodes().map(probe))).toEqual(nodes().map(() => expected));
  };
  /** Waits until every instance shows the change, timed from `since` (the acknowledgement). */
  const propagated = async (
    label: string,
    since: number,
    probe: (at: ChildServer) => Promise<boolean>,
    kind: 'normal' | 'listenerDown' | 'resubscribed' = 'normal',
    at = nodes(),
  ) => {
    measured[kind].push(...(await seenEverywhere(label, at, probe, { since, withinMs: DEADLINE_MS })));
  };
  const cliOk = async (args: string[]): Promise<number> => {
    const result = await cluster.cli(args);
    expect({ status: result.status, stderr: result.stderr }).toMatchObject({ status: 0 });
    return Date.now();
  };

  // ---- one test per kind of change ----

  test('a client created at one instance, or by the CLI, gets tokens at every instance', async () => {
    const created = await newClient(a());
    await propagated('client created at A', Date.now(), async (at) => (await tokenAnswer(at, created)).status === 200);
    const byCli = await cluster.cliJson<{ client_id: string; client_secret: string }>(['client', 'create', 'made by the CLI', '--groups', 'readers']);
    const cliClient = { id: byCli.client_id, secret: byCli.client_secret };
    await propagated('client created by the CLI', Date.now(), async (at) => (await tokenAnswer(at, cliClient)).status === 200);
  });

  test("a group's scopes changed by the CLI or at an instance change every instance's next token", async () => {
    const client = await newClient(b());
    const scopeAt = async (at: ChildServer): Promise<string> => (await tokenAnswer(at, client)).body.scope as string;
    await everywhere(scopeAt, 'reports:read');

    const since = await cliOk(['group', 'add-scope', 'readers', 'reports:export']);
    await propagated('scope added by the CLI', since, async (at) => (await scopeAt(at)) === 'reports:export reports:read');

    const removed = await b().adminPost('/admin/groups/readers/scopes', { remove: ['reports:export'] });
    expect(removed.body).toEqual({ name: 'readers', scopes: ['reports:read'] });
    await propagated('scope removed at B', Date.now(), async (at) => (await scopeAt(at)) === 'reports:read');
  });

  test('a secret rotated at one instance, then by the CLI: the old secret fails and the new one works at every instance', async () => {
    const client = await newClient(c());
    await everywhere(async (at) => (await tokenAnswer(at, client)).status, 200);

    const rotated = await b().adminPost(`/admin/clients/${client.id}/secret`);
    expect(rotated.status).toBe(200);
    const second = { id: client.id, secret: rotated.body.client_secret as string };
    await propagated(
      'secret rotated at B',
      Date.now(),
      async (at) => (await tokenAnswer(at, client)).status === 401 && (await tokenAnswer(at, second)).status === 200,
    );

    const byCli = await cluster.cliJson<{ client_secret: string }>(['client', 'rotate-secret', client.id]);
    const third = { id: client.id, secret: byCli.client_secret };
    await propagated(
      'secret rotated by the CLI',
      Date.now(),
      async (at) => (await tokenAnswer(at, second)).status === 401 && (await tokenAnswer(at, third)).status === 200,
    );
  });

  test('a client disabled by the CLI is refused everywhere (its tokens at the guard, new tokens), and enabled at an instance works everywhere again', async () => {
    const client = await newClient(a());
    const accessToken = await token(c(), client);
    await everywhere((at) => guardStatus(at, accessToken), 200);
    await everywhere(async (at) => (await tokenAnswer(at, client)).status, 200);

    const since = await cliOk(['client', 'disable', client.id]);
    await propagated(
      'client disabled by the CLI',
      since,
      async (at) => (await guardStatus(at, accessToken)) === 401 && (await tokenAnswer(at, client)).status === 401,
    );

    expect((await c().adminPost(`/admin/clients/${client.id}/enabled`, { enabled: true })).status).toBe(200);
    await propagated(
      'client enabled at C',
      Date.now(),
      async (at) => (await guardStatus(at, accessToken)) === 200 && (await tokenAnswer(at, client)).status === 200,
    );
  });

  test('a client deleted at one instance is gone everywhere: its tokens and its credentials', async () => {
    const client = await newClient(b());
    const accessToken = await token(b(), client);
    await everywhere((at) => guardStatus(at, accessToken), 200);
    await everywhere(async (at) => (await tokenAnswer(at, client)).status, 200);

    expect((await a().adminPost(`/admin/clients/${client.id}/delete`)).status).toBe(200);
    await propagated(
      'client deleted at A',
      Date.now(),
      async (at) => (await guardStatus(at, accessToken)) === 401 && (await tokenAnswer(at, client)).status === 401,
    );
  });

  test('a token revoked at instance A (POST /oauth/revoke) and one revoked by `ccgate token revoke` are refused by the guard of every instance', async () => {
    const client = await newClient(c());
    const first = await token(b(), client);
    const second = await token(c(), client);
    await everywhere((at) => guardStatus(at, first), 200);
    await everywhere((at) => guardStatus(at, second), 200);

    expect((await a().revoke(client.id, client.secret, first)).status).toBe(200);
    await propagated('token revoked at A', Date.now(), async (at) => (await guardStatus(at, first)) === 401);
    await everywhere((at) => guardStatus(at, second), 200);

    const since = await cliOk(['token', 'revoke', second]);
    await propagated('token revoked by the CLI', since, async (at) => (await guardStatus(at, second)) === 401);
  });

  describe('one issuer, one set of keys', () => {
    /** An API in another service: the remote guard in JWKS mode, finding the keys through instance A. */
    let api: Listening;
    const fetched: string[] = [];
    let client: Client;
    const issued: string[] = [];

    beforeAll(async () => {
      // "DNS": the issuer's host is instance A. Refetch on every unknown kid (no cooldown), so a lead-0 rotation is seen at once.
      const viaA: FetchLike = (input, init) => {
        fetched.push(input);
        return fetch(input.replace(ISSUER, a().url), init);
      };
      const guard = remoteGuard({ issuer: ISSUER, audience: ISSUER, fetch: viaA, jwksCooldown: 0 });
      const app = express();
      app.get('/reports', guard.requireScope('reports:read'), (req, res) => res.json({ client: req.auth?.clientId }));
      api = await listen(app);
      client = await newClient(b());
    });
    afterAll(async () => {
      note('remote guard fetches', { count: fetched.length });
      await api?.stop();
    });

    /** Every token validates at every instance's guard and at the remote guard: a row per token, a status per place. */
    const expectValidEverywhere = async (tokens: string[]): Promise<void> => {
      const statuses = await Promise.all(
        tokens.map(async (t) => [...(await Promise.all(nodes().map((at) => guardStatus(at, t)))), (await callApi(`${api.origin}/reports`, t)).status]),
      );
      expect(statuses).toEqual(tokens.map(() => [200, 200, 200, 200]));
    };
    const tokensFromEach = (): Promise<string[]> => Promise.all(nodes().map((at) => token(at, client)));
    const signsWith = (kid: string) => async (at: ChildServer) => kidOf(await token(at, client)) === kid;
    const publishes = (kid: string) => async (at: ChildServer) =>
      ((await at.get('/oauth/jwks')).body.keys as Array<{ kid: string }>).some((key) => key.kid === kid);

    test('a token from any instance validates at every instance and at the remote guard: every instance is the same issuer, signing with the same key', async () => {
      const tokens = await tokensFromEach();
      issued.push(...tokens);
      expect(tokens.map((t) => decodeJwt(t).payload.iss)).toEqual([ISSUER, ISSUER, ISSUER]);
      expect(new Set(tokens.map(kidOf)).size).toBe(1);
      for (const at of nodes()) expect((await at.get(METADATA_PATH)).body.issuer).toBe(ISSUER);
      await expectValidEverywhere(tokens);
    });

    test('a key rotated at instance B, then by the CLI (lead 0): every instance signs with the new key, and every token so far validates everywhere', async () => {
      const rotated = await b().adminPost('/admin/keys/rotate', { leadSeconds: 0 });
      expect(rotated.body).toMatchObject({ status: 'active' });
      await propagated('key rotated at B', Date.now(), signsWith(rotated.body.kid as string));
      issued.push(...(await tokensFromEach()));

      const byCli = await cluster.cliJson<{ kid: string; status: string }>(['key', 'rotate', '--lead', '0']);
      expect(byCli.status).toBe('active');
      await propagated('key rotated by the CLI', Date.now(), signsWith(byCli.kid));
      issued.push(...(await tokensFromEach()));
      await expectValidEverywhere(issued);
    });

    test('a key rotated by the CLI with a lead (2 s): published by every instance at once, signing nowhere before its time, then everywhere', async () => {
      const current = kidOf(await token(a(), client));
      const key = await cluster.cliJson<{ kid: string; status: string; activates_at: number }>(['key', 'rotate', '--lead', '2']);
      expect(key.status).toBe('pending');
      await propagated('key with a lead: published', Date.now(), publishes(key.kid));
      const early = await tokensFromEach();
      // Decided by the clock, not by luck: tokens issued before the activation time carry the current key.
      if (Date.now() / 1000 < key.activates_at) expect(early.map(kidOf)).toEqual([current, current, current]);
      issued.push(...early);
      await seenEverywhere('key with a lead: signing', nodes(), signsWith(key.kid), {
        since: Date.now(),
        withinMs: Math.max(0, key.activates_at * 1000 - Date.now()) + DEADLINE_MS,
      });
      issued.push(...(await tokensFromEach()));
      await expectValidEverywhere(issued);
    });
  });

  describe("instance B's listening connection lost", () => {
    /** B's listening connections (B reaches the database through the proxy, so its connections are the proxy's). */
    const listenersOfB = () => backends(cluster.raw, cluster.db.name, 'ccgate-listen', cluster.proxy.serverPorts());
    /** Waits for B to listen on a connection other than `old` ones; returns its backend pid. */
    const resubscribed = async (old: number[]): Promise<number> => {
      const started = Date.now();
      const pid = await eventually(
        // A new listening connection that has run a statement: its first one is the LISTEN (later, a check may follow).
        async () => (await listenersOfB()).find((row) => !old.includes(row.pid) && row.query !== '')?.pid,
        // Its reconnection backoff is at most 5 s; a connection that died silently is noticed within connectTimeoutMs (2 s).
        { withinMs: 10_000, everyMs: 20 },
      );
      note('listening again', { afterMs: Date.now() - started });
      return pid;
    };
    /** A client with a token from each instance, and every instance's caches holding its current state. */
    const warmClient = async (): Promise<{ client: Client; tokens: string[] }> => {
      const client = await newClient(a());
      const tokens = await Promise.all(nodes().map((at) => token(at, client)));
      await everywhere(async (at) => (await tokenAnswer(at, client)).status, 200);
      for (const t of tokens) await everywhere((at) => guardStatus(at, t), 200);
      return { client, tokens };
    };
    const atB = (): ChildServer[] => [b()];

    test('killed (pg_terminate_backend): a change made meanwhile reaches B within the bound, and B subscribes again and hears the next change at once', async () => {
      const { client, tokens } = await warmClient();
      const [listener] = await listenersOfB();
      expect(listener).toBeDefined();

      expect(await terminate(cluster.raw, cluster.db.name, 'ccgate-listen', [listener.clientPort as number])).toBe(1);
      expect((await a().revoke(client.id, client.secret, tokens[0])).status).toBe(200);
      await propagated('revoked at A, B listener killed', Date.now(), async (at) => (await guardStatus(at, tokens[0])) === 401, 'listenerDown', atB());

      await resubscribed([listener.pid]);
      expect((await a().revoke(client.id, client.secret, tokens[1])).status).toBe(200);
      await propagated('revoked at A, B listening again', Date.now(), async (at) => (await guardStatus(at, tokens[1])) === 401, 'resubscribed', atB());
    });

    test('dead without a word (stalled): changes still reach B within the bound, by its counter polls alone; B replaces the connection and hears changes at once again', async () => {
      const { client, tokens } = await warmClient();
      const [listener] = await listenersOfB();
      expect(cluster.proxy.stall([listener.clientPort as number])).toBe(1);

      // No notification reaches B now, and nothing tells it so.
      expect((await a().revoke(client.id, client.secret, tokens[0])).status).toBe(200);
      await propagated('revoked at A, B listener silent', Date.now(), async (at) => (await guardStatus(at, tokens[0])) === 401, 'listenerDown', atB());
      const rotated = await cluster.cliJson<{ client_secret: string }>(['client', 'rotate-secret', client.id]);
      const renewed = { id: client.id, secret: rotated.client_secret };
      await propagated(
        'secret rotated by the CLI, B listener silent',
        Date.now(),
        async (at) => (await tokenAnswer(at, client)).status === 401 && (await tokenAnswer(at, renewed)).status === 200,
        'listenerDown',
        atB(),
      );

      // A poll saw the counter move unannounced: B checks its listening connection, gives up on it, and subscribes anew.
      await resubscribed([listener.pid]);
      expect((await c().adminPost(`/admin/clients/${client.id}/enabled`, { enabled: false })).status).toBe(200);
      await propagated('client disabled at C, B listening again', Date.now(), async (at) => (await guardStatus(at, tokens[1])) === 401, 'resubscribed', atB());
      await terminate(cluster.raw, cluster.db.name, 'ccgate-listen', [listener.clientPort as number]);
    });
  });

  describe('one failure throttle (every request comes from 127.0.0.1: the counters of the client id and that address refuse)', () => {
    const wrong = async (at: ChildServer, id: string): Promise<void> =>
      expectInvalidClient(responseOf(await at.tokenRequest(id, 'not-the-secret-of-this-client')));

    test(`${MAX_FAILURES - 1} failures at A and 1 at B refuse the client at both (invalid_client with Retry-After), even with its right secret`, async () => {
      const client = await newClient(a());
      const bystander = await newClient(a());
      for (let i = 0; i < MAX_FAILURES - 1; i++) await wrong(a(), client.id);
      // Neither instance alone has seen the limit: only shared counters refuse here.
      await wrong(b(), client.id);
      for (const at of [b(), a()]) expectThrottled(responseOf(await tokenAnswer(at, client)), WINDOW_SECONDS);
      // The refusal is this client's, not the instances': another client is served at both.
      for (const at of [a(), b()]) expect((await tokenAnswer(at, bystander)).status).toBe(200);
    });

    test(`${MAX_FAILURES} failures all at A: B and C refuse the client too`, async () => {
      const client = await newClient(a());
      for (let i = 0; i < MAX_FAILURES; i++) await wrong(a(), client.id);
      for (const at of [b(), c()]) expectThrottled(responseOf(await tokenAnswer(at, client)), WINDOW_SECONDS);
    });

    test('a success at B clears the failures counted at A', async () => {
      const client = await newClient(a());
      const half = MAX_FAILURES / 2;
      for (let i = 0; i < half; i++) await wrong(a(), client.id);
      expect((await tokenAnswer(b(), client)).status).toBe(200);
      for (let i = 0; i < half; i++) await wrong(i % 2 === 0 ? a() : c(), client.id);
      // The limit's worth of failures in all, but fewer since the reset: not refused.
      for (const at of nodes()) expect((await tokenAnswer(at, client)).status).toBe(200);
    });
  });

  test('no instance answered a server error', () => {
    for (const node of nodes()) expect(node.stderr()).not.toMatch(/server error/);
  });
});
