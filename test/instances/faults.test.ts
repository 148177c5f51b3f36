/**
 * Many instances on PostgreSQL, faults, with real processes: an instance killed (kill -9) under load
 * while the others serve on; then the database itself going away and coming back (the instances
 * reach it through a TCP proxy: stopped, it refuses and cuts connections; hung, it accepts them and
 * never answers); then every connection of the instances terminated by the server. Whatever
 * happens, no answer is a 500 and none hangs: what needs the database is a 503 with Retry-After
 * while it is away (README "When the database is away"), service is back by itself within seconds
 * of its return, and no write that was acknowledged is lost. Timings are logged (INSTANCES_DEBUG=1),
 * never asserted beyond generous deadlines.
 */
import { types } from 'node:util';
import { METADATA_PATH } from '../support/constants';
import type { Reply } from '../support/http';
import { note, useInstances } from '../support/instances';
import { decodeJwt } from '../support/jwt';
import { expectUnavailable, introspect, responseOf } from '../support/oauth';
import { describePostgres, terminate } from '../support/postgres';
import type { ChildServer } from '../support/processes';
import { runCliAsync } from '../support/cli';
import { eventually, median, sleep } from '../support/time';

jest.setTimeout(60_000);

const BOUND_MS = 500;
/**
 * The instances' statement timeout (a client-side one follows a second later): shorter than the
 * default 5 s only to keep the silent-database test short. connectTimeoutMs keeps its default, 2 s.
 */
const STATEMENT_TIMEOUT_MS = 2000;
/** No request may take longer than this, whatever the database does. */
const SETTLE_MS = 10_000;

interface Client {
  id: string;
  secret: string;
}

/** The code of a connection error (refused, reset, closed mid-answer), or null for anything else (a timeout is a hang, not a connection error). */
function connectionError(err: unknown): string | null {
  // fetch's errors come from Node's realm, not the test's: told by name, not by instanceof.
  if (!types.isNativeError(err) || err.name !== 'TypeError' || err.message !== 'fetch failed') return null;
  const cause = err.cause as { code?: string; name?: string } | undefined;
  return cause?.code ?? cause?.name ?? 'unknown';
}

/**
 * What a load balancer does: it sends each request to the next instance in turn, and on a connection
 * error (never on an HTTP status) it takes that instance out and sends the request to the next one.
 */
class Balancer {
  private turn = 0;
  readonly out = new Set<ChildServer>();
  readonly answers: Array<{ node: number; kind: string; status: number }> = [];
  readonly connectionErrors: Array<{ node: number; kind: string; code: string }> = [];

  constructor(private readonly nodes: ChildServer[]) {}

  /** The answer, and the index of the instance that gave it. */
  async send(kind: string, request: (node: ChildServer) => Promise<Reply>): Promise<{ reply: Reply; node: number }> {
    for (;;) {
      const up = this.nodes.filter((n) => !this.out.has(n));
      if (up.length === 0) throw new Error('no instance left');
      const node = up[this.turn++ % up.length];
      try {
        const reply = await request(node);
        const index = this.nodes.indexOf(node);
        this.answers.push({ node: index, kind, status: reply.status });
        return { reply, node: index };
      } catch (err) {
        const code = connectionError(err);
        if (code === null) throw err;
        this.connectionErrors.push({ node: this.nodes.indexOf(node), kind, code });
        this.out.add(node);
      }
    }
  }
}

describePostgres('many instances on one PostgreSQL database: faults', () => {
  // The failure throttle on, as in production: its counters are one more thing the token endpoint needs the database for.
  const cluster = useInstances(3, {
    options: { postgres: { maxStalenessMs: BOUND_MS, statementTimeoutMs: STATEMENT_TIMEOUT_MS }, throttle: { lockedDelayMs: 0 } },
    throughProxy: true,
  });
  const nodes = (): ChildServer[] => cluster.nodes;
  const [a, b, c] = [0, 1, 2].map((i) => (): ChildServer => cluster.nodes[i]);
  let user: Client;
  let introspector: Client;

  const newClient = async (at: ChildServer, groups: string[]): Promise<Client> => {
    const res = await at.adminPost('/admin/clients', { name: 'faults client', groups });
    expect(res.status).toBe(201);
    return { id: res.body.client_id, secret: res.body.client_secret };
  };
  const token = async (at: ChildServer, client: Client): Promise<string> => {
    const res = await at.tokenRequest(client.id, client.secret);
    if (res.status !== 200) throw new Error(`token request at ${at.url}: ${res.status} ${res.text}`);
    return res.body.access_token as string;
  };

  beforeAll(async () => {
    expect((await a().adminPost('/admin/groups', { name: 'readers', scopes: ['reports:read'] })).status).toBe(201);
    expect((await a().adminPost('/admin/groups', { name: 'introspectors', scopes: ['ccgate:introspect'] })).status).toBe(201);
    user = await newClient(a(), ['readers']);
    introspector = await newClient(b(), ['introspectors']);
  });

  test('kill -9 of one instance under load: the others answer every request 2xx; the dead one only fails to connect, and the balancer routes around it', async () => {
    const lb = new Balancer(nodes());
    let stop = false;
    let killed = false;
    const afterKill: Array<{ node: number; status: number }> = [];
    const worker = async (): Promise<void> => {
      while (!stop) {
        const issued = await lb.send('token', (at) => at.tokenRequest(user.id, user.secret));
        if (killed) afterKill.push({ node: issued.node, status: issued.reply.status });
        if (issued.reply.status !== 200) continue;
        // A token from one instance, used at the next: keys and revocations are shared.
        const called = await lb.send('api', (at) => at.get('/api/reports', { authorization: `Bearer ${issued.reply.body.access_token}` }));
        if (killed) afterKill.push({ node: called.node, status: called.reply.status });
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await eventually(async () => (lb.answers.length >= 60 ? true : undefined), { withinMs: 20_000, everyMs: 10 });
    const killedAt = lb.answers.length;
    await b().kill9();
    killed = true;
    await eventually(async () => (afterKill.length >= 60 ? true : undefined), { withinMs: 20_000, everyMs: 10 });
    stop = true;
    await Promise.all(workers);

    const byNode = (list: Array<{ node: number }>) => [0, 1, 2].map((n) => list.filter((x) => x.node === n).length);
    note('kill -9 under load', {
      answers: lb.answers.length,
      beforeKill: byNode(lb.answers.slice(0, killedAt)),
      afterKill: byNode(afterKill),
      connectionErrors: lb.connectionErrors,
    });
    // Every answer, before and after the kill, from any instance, is a success: no 5xx, no refusal.
    expect(lb.answers.filter((x) => x.status < 200 || x.status > 299)).toEqual([]);
    // The kill happened mid-load: B had been serving; afterwards the survivors served and B never answered.
    expect(byNode(lb.answers.slice(0, killedAt))[1]).toBeGreaterThan(0);
    const [toA, toB, toC] = byNode(afterKill);
    expect({ toA: toA > 0, toB, toC: toC > 0 }).toEqual({ toA: true, toB: 0, toC: true });
    // What the balancer saw of the dead instance were connection errors, and only of it.
    expect(lb.connectionErrors.length).toBeGreaterThan(0);
    expect(lb.connectionErrors.filter((e) => e.node !== 1)).toEqual([]);
  });

  describe('the database away, then back', () => {
    const survivors = (): ChildServer[] => [a(), c()];
    /** Writes answered 2xx (or exit 0): each must be in the registry afterwards. */
    const acked = { groups: new Set<string>(), clients: new Set<string>(), revoked: new Map<string, string>() };

    type Kind = 'token' | 'introspect' | 'revoke' | 'guard' | 'jwks' | 'metadata';
    const KINDS: Kind[] = ['token', 'introspect', 'revoke', 'guard', 'jwks', 'metadata'];
    /** What the database is needed for: each answers 503 while it is away (once cached answers are past the bound). */
    const NEEDS_DATABASE: Kind[] = ['token', 'introspect', 'revoke', 'guard'];
    interface Probe {
      kind: Kind;
      node: number;
      started: number;
      ms: number;
      reply: Reply;
    }
    /** A token that is never revoked, for the guard and introspection. */
    let guarded: string;
    /** Tokens for the writer to revoke. */
    const spare: string[] = [];

    beforeAll(async () => {
      guarded = await token(c(), user);
    });

    const probe = async (kind: Kind, at: ChildServer): Promise<Probe> => {
      const started = Date.now();
      const send = {
        token: () => at.tokenRequest(user.id, user.secret),
        introspect: () => introspect(at, { clientId: introspector.id, clientSecret: introspector.secret }, { token: guarded }, { fresh: true }),
        // An invalid token is revoked with a 200 (RFC 7009 §2.2) once the caller is authenticated.
        revoke: () => at.revoke(user.id, user.secret, 'not-an-access-token'),
        guard: () => at.get('/api/reports', { authorization: `Bearer ${guarded}` }),
        jwks: () => at.get('/oauth/jwks'),
        metadata: () => at.get(METADATA_PATH),
      }[kind];
      const reply = await send();
      return { kind, node: nodes().indexOf(at), started, ms: Date.now() - started, reply };
    };
    const served = (p: Probe): boolean => p.reply.status === 200 && (p.kind !== 'introspect' || p.reply.body.active === true);
    /** One round of every kind at every survivor, all at once: true when every one was served. */
    const allServed = async (): Promise<boolean> => (await Promise.all(survivors().flatMap((at) => KINDS.map((kind) => probe(kind, at))))).every(served);

    /**
     * Runs, until stop(): a loop per survivor and kind of request, probing over and over; and a writer
     * making admin writes and revocations at the survivors in turn, every 2xx recorded in `acked`.
     */
    function load(tag: string): { probes: Probe[]; stop(): Promise<void> } {
      const probes: Probe[] = [];
      let stopped = false;
      const probing = survivors().flatMap((at) =>
        KINDS.map(async (kind) => {
          while (!stopped) {
            probes.push(await probe(kind, at));
            await sleep(50);
          }
        }),
      );
      const writing = (async () => {
        for (let i = 0; !stopped; i++) {
          const at = survivors()[i % 2];
          const t = spare.pop();
          if (i % 2 === 0 || t === undefined) {
            const name = `${tag}-${i}`;
            if ((await at.adminPost('/admin/groups', { name, scopes: ['reports:read'] })).status === 201) acked.groups.add(name);
          } else if ((await at.revoke(user.id, user.secret, t)).status === 200) {
            acked.revoked.set(decodeJwt(t).payload.jti as string, user.id);
          }
          await sleep(20);
        }
      })();
      return {
        probes,
        stop: async () => {
          stopped = true;
          await Promise.all([...probing, writing]);
        },
      };
    }

    /** Acknowledged writes: a client by the CLI, a client at an instance, a revocation at another. */
    const ackedWrites = async (tag: string): Promise<void> => {
      acked.clients.add((await cluster.cliJson<{ client_id: string }>(['client', 'create', `cli client ${tag}`, '--groups', 'readers'])).client_id);
      acked.clients.add((await newClient(c(), ['readers'])).id);
      const t = await token(a(), user);
      expect((await c().revoke(user.id, user.secret, t)).status).toBe(200);
      acked.revoked.set(decodeJwt(t).payload.jti as string, user.id);
    };

    /**
     * Acknowledged writes, then load; the outage begins (`begin`), holds for `holdMs` while the CLI
     * tries a write through the proxy, and ends (`end`); the load runs on until every kind of request
     * is served at every survivor again; then more acknowledged writes. Logs what it saw.
     */
    async function throughOutage(tag: string, { begin, end, holdMs }: { begin: () => unknown; end: () => Promise<void>; holdMs: number }) {
      spare.push(...(await Promise.all(Array.from({ length: 20 }, () => token(a(), user)))));
      await ackedWrites(`${tag}-before`);
      const running = load(tag);
      await sleep(300);
      await begin();
      const down = Date.now();
      const cli = await runCliAsync(['--json', 'group', 'create', `cli-${tag}-during`], { db: cluster.proxy.url(cluster.db.name) });
      const cliMs = Date.now() - down;
      await sleep(Math.max(0, down + holdMs - Date.now()));
      const ending = Date.now();
      await end();
      const up = Date.now();
      const recovered = await eventually(async () => ((await allServed()) ? Date.now() : undefined), { withinMs: 15_000, everyMs: 50 });
      await sleep(200);
      await running.stop();
      await ackedWrites(`${tag}-after`);

      const all = running.probes;
      // Past the bound every cached answer has expired: whatever needs the database has to go there.
      const away = all.filter((p) => p.started >= down + BOUND_MS + 250 && p.started + p.ms < up);
      const unavailable = all.filter((p) => p.reply.status === 503);
      note(`outage (${tag})`, {
        probes: all.length,
        whileAway: away.length,
        unavailable: unavailable.length,
        unavailableMs: { median: median(unavailable.map((p) => p.ms)), max: Math.max(0, ...unavailable.map((p) => p.ms)) },
        awayStatuses: Object.fromEntries(KINDS.map((kind) => [kind, [...new Set(away.filter((p) => p.kind === kind).map((p) => p.reply.status))]])),
        slowestMs: Math.max(...all.map((p) => p.ms)),
        recoveredAfterMs: recovered - up,
        cli: { status: cli.status, ms: cliMs, stderr: cli.stderr.trim() },
        acked: { groups: acked.groups.size, clients: acked.clients.size, revoked: acked.revoked.size },
      });
      return { all, away, ending, cli, cliMs };
    }

    /** Never a hang, never a 500: every answer a success or a 503 with Retry-After, in well under SETTLE_MS. */
    const expectNoFault = (all: Probe[]): void => {
      expect(all.filter((p) => p.ms >= SETTLE_MS).map((p) => ({ kind: p.kind, ms: p.ms }))).toEqual([]);
      expect(all.filter((p) => !served(p) && p.reply.status !== 503).map((p) => ({ kind: p.kind, status: p.reply.status, body: p.reply.text }))).toEqual([]);
      for (const p of all.filter((x) => x.reply.status === 503)) expectUnavailable(responseOf(p.reply));
    };
    /** Every kind needing the database, at each survivor, has a probe in `probes` (e.g. "token@0: true"). */
    const expectEveryKindIn = (probes: Probe[]): void => {
      const seen = (kind: Kind, node: number): string => `${kind}@${node}: ${probes.some((p) => p.kind === kind && p.node === node)}`;
      expect(NEEDS_DATABASE.flatMap((kind) => [0, 2].map((node) => seen(kind, node)))).toEqual(
        NEEDS_DATABASE.flatMap((kind) => [0, 2].map((node) => `${kind}@${node}: true`)),
      );
    };
    /** While it was away (past the bound) everything needing the database was a 503, and each kind was tried at each survivor. */
    const expectUnavailableWhileAway = (away: Probe[]): void => {
      const needy = away.filter((p) => NEEDS_DATABASE.includes(p.kind));
      expect(needy.filter((p) => p.reply.status !== 503).map((p) => ({ kind: p.kind, node: p.node, status: p.reply.status }))).toEqual([]);
      expectEveryKindIn(needy);
    };
    /** Every acknowledged write, read back through the registry of each survivor. */
    const expectAckedWritesEverywhere = async (): Promise<void> => {
      for (const at of survivors()) {
        const state = (await at.get('/admin/state')).body as { groups: Array<{ name: string }>; clients: Array<{ client_id: string }> };
        const groups = new Set(state.groups.map((g) => g.name));
        expect([...acked.groups].filter((name) => !groups.has(name))).toEqual([]);
        const clients = new Set(state.clients.map((x) => x.client_id));
        expect([...acked.clients].filter((id) => !clients.has(id))).toEqual([]);
        const jtis = [...acked.revoked.keys()];
        const statuses = (await at.adminPost('/admin/token-status', { tokens: jtis.map((jti) => ({ jti, client_id: acked.revoked.get(jti) })) })).body.statuses;
        expect(statuses).toEqual(jtis.map(() => 'revoked'));
      }
    };

    test('refusing connections (the proxy stopped): what needs the database is a 503 with Retry-After, never a 500 or a hang; full service within seconds of its return; no acknowledged write lost', async () => {
      const { all, away, cli, cliMs } = await throughOutage('refused', { begin: () => cluster.proxy.stop(), end: () => cluster.proxy.start(), holdMs: 1500 });
      expectNoFault(all);
      expectUnavailableWhileAway(away);
      // The CLI meanwhile: refused in one line, exit 1, quickly.
      expect({ status: cli.status, quick: cliMs < SETTLE_MS, stderr: cli.stderr }).toEqual({
        status: 1,
        quick: true,
        stderr: expect.stringMatching(/unavailable/),
      });
      await expectAckedWritesEverywhere();
    });

    test('not answering at all (connections open, nothing comes back): every request still settles within the timeouts as a 503; service back once it answers again', async () => {
      const { all, away, ending, cli, cliMs } = await throughOutage('silent', {
        begin: () => cluster.proxy.hang(),
        end: async () => {
          // The connections that hung break (a moment of refusals), then new ones work.
          await cluster.proxy.stop();
          await sleep(300);
          await cluster.proxy.start();
        },
        // Long enough for requests begun at the start to give up by themselves: query timeout (statement timeout + 1 s) and then some.
        holdMs: STATEMENT_TIMEOUT_MS + 2000,
      });
      expectNoFault(all);
      expectUnavailableWhileAway(away);
      // Requests settled while nothing answered (by the timeouts), not only once the connections broke.
      expectEveryKindIn(all.filter((p) => p.reply.status === 503 && p.started + p.ms < ending));
      expect({ status: cli.status, quick: cliMs < SETTLE_MS }).toEqual({ status: 1, quick: true });
      await expectAckedWritesEverywhere();
    });

    test('every connection of the instances terminated by the server, under load: no 500, and service continues by itself', async () => {
      const running = load('terminated');
      await sleep(200);
      const cut = await terminate(cluster.raw, cluster.db.name);
      await sleep(300);
      await eventually(async () => ((await allServed()) ? true : undefined), { withinMs: 15_000, everyMs: 50 });
      await running.stop();
      note('backends terminated', { cut, probes: running.probes.length, unavailable: running.probes.filter((p) => p.reply.status === 503).length });
      expect(cut).toBeGreaterThan(0);
      expectNoFault(running.probes);
      await expectAckedWritesEverywhere();
    });
  });

  test('no surviving instance answered a server error', () => {
    for (const node of [a(), c()]) expect(node.stderr()).not.toMatch(/server error/);
  });
});
