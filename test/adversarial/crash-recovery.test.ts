/**
 * Fault: kill -9 of the server in the middle of a burst of registry writes (groups, clients,
 * revocations) and token issuance, then a restart on the same SQLite file. Every acknowledged write
 * must be there, nothing half-written, and tokens issued before the kill must still validate.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from '../support/temp';
import { sleep } from '../support/time';
import { startChildServer, type ChildServer } from '../support/processes';
import { decodeJwt } from '../support/jwt';

jest.setTimeout(90_000);

interface Acked {
  groups: Map<string, string[]>;
  clients: Map<string, { secret: string; groups: string[] }>;
  tokens: { token: string; clientId: string }[];
  revoked: Set<string>;
  /** Revocations sent but not acknowledged: either outcome is legitimate. */
  revokeAttempted: Set<string>;
  /** The one client made outside the burst (in group base only). */
  warmUpId?: string;
}

const pick = <T>(items: T[]): T | undefined => (items.length === 0 ? undefined : items[Math.floor(Math.random() * items.length)]);

/** Runs a burst against `server` until `stop()` says so; every 2xx is recorded as acknowledged. */
function burst(server: ChildServer, acked: Acked, tag: string): { stop: () => void; done: Promise<unknown> } {
  let stopped = false;
  const creator = async (worker: number): Promise<void> => {
    for (let i = 0; !stopped; i++) {
      const group = `g-${tag}-${worker}-${i}`;
      const scopes = ['reports:read', `${group}:write`];
      const g = await server.adminPost('/admin/groups', { name: group, scopes });
      if (g.status !== 201) throw new Error(`group create answered ${g.status}`);
      acked.groups.set(group, [...scopes].sort());
      const c = await server.adminPost('/admin/clients', { name: `client ${group}`, groups: ['base', group] });
      if (c.status !== 201) throw new Error(`client create answered ${c.status}`);
      acked.clients.set(c.body.client_id, { secret: c.body.client_secret, groups: ['base', group].sort() });
    }
  };
  const issuer = async (): Promise<void> => {
    while (!stopped) {
      const id = pick([...acked.clients.keys()]);
      if (!id) {
        await sleep(5);
        continue;
      }
      const res = await server.tokenRequest(id, (acked.clients.get(id) as { secret: string }).secret);
      if (res.status !== 200) throw new Error(`token request answered ${res.status} ${res.text}`);
      acked.tokens.push({ token: res.body.access_token, clientId: id });
    }
  };
  const revoker = async (): Promise<void> => {
    while (!stopped) {
      const t = pick(acked.tokens.filter((x) => !acked.revokeAttempted.has(x.token)));
      if (!t) {
        await sleep(5);
        continue;
      }
      acked.revokeAttempted.add(t.token);
      const res = await server.revoke(t.clientId, (acked.clients.get(t.clientId) as { secret: string }).secret, t.token);
      if (res.status !== 200) throw new Error(`revocation answered ${res.status}`);
      acked.revoked.add(t.token);
    }
  };
  // Each loop ends at the first failure: after the kill, every request fails (connection refused/reset).
  const loops = [0, 1, 2, 3].map(creator).concat([issuer(), issuer(), revoker()]);
  return {
    stop: () => {
      stopped = true;
    },
    done: Promise.allSettled(loops),
  };
}

function checkFile(dbPath: string, acked: Acked): void {
  const db = new Database(dbPath);
  try {
    db.pragma('foreign_keys = ON');
    expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    expect(db.pragma('foreign_key_check')).toEqual([]);

    // Nothing half-written: every client that exists at all (acknowledged or not) is whole.
    const clients = db
      .prepare(
        `SELECT c.client_id AS id, c.type,
           (SELECT count(*) FROM client_secrets s WHERE s.client_id = c.client_id) AS secrets,
           (SELECT group_concat(name, ' ') FROM (SELECT g.name FROM client_groups cg JOIN groups g ON g.id = cg.group_id
              WHERE cg.client_id = c.client_id ORDER BY g.name)) AS groups
         FROM clients c`,
      )
      .all() as { id: string; type: string; secrets: number; groups: string | null }[];
    for (const c of clients.filter((x) => x.id !== acked.warmUpId)) {
      expect({ id: c.id, type: c.type, secrets: c.secrets, groupCount: (c.groups ?? '').split(' ').length }).toEqual({
        id: c.id,
        type: 'confidential',
        secrets: 1,
        groupCount: 2,
      });
    }
    // Every group that exists has the two scopes it was created with (base has one).
    const groups = db.prepare(`SELECT g.name, (SELECT count(*) FROM group_scopes s WHERE s.group_id = g.id) AS n FROM groups g`).all() as {
      name: string;
      n: number;
    }[];
    for (const g of groups) expect({ name: g.name, n: g.n }).toEqual({ name: g.name, n: g.name === 'base' ? 1 : 2 });

    // Every acknowledged write is there.
    const groupScopes = db.prepare<[string], { scope: string }>(
      'SELECT scope FROM group_scopes WHERE group_id = (SELECT id FROM groups WHERE name = ?) ORDER BY scope',
    );
    for (const [name, scopes] of acked.groups) expect(groupScopes.all(name).map((r) => r.scope)).toEqual(scopes);
    const byId = new Map(clients.map((c) => [c.id, c]));
    for (const [id, c] of acked.clients) expect(byId.get(id)?.groups?.split(' ')).toEqual(c.groups);
    const revoked = db.prepare<[string], { jti: string }>('SELECT jti FROM revoked_tokens WHERE jti = ?');
    for (const token of acked.revoked) {
      const jti = decodeJwt(token).payload.jti as string;
      expect(revoked.get(jti)?.jti).toBe(jti);
    }
  } finally {
    db.close();
  }
}

async function checkServer(server: ChildServer, acked: Acked): Promise<void> {
  // Every acknowledged client's secret works (its secret row is whole).
  for (const [id, c] of acked.clients) {
    const res = await server.tokenRequest(id, c.secret);
    expect({ id, status: res.status }).toEqual({ id, status: 200 });
  }
  // Tokens from before the kill: valid unless revoked (the signing key was persisted).
  for (const { token } of acked.tokens) {
    const res = await server.get('/api/whoami', { authorization: `Bearer ${token}` });
    if (acked.revoked.has(token)) {
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
    } else if (!acked.revokeAttempted.has(token)) {
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: expect.objectContaining({ client: expect.any(String) }) });
    }
  }
}

test('kill -9 during a burst of registry writes and token issuance, twice: acknowledged writes survive whole, old tokens still validate', async () => {
  const { dir, cleanup } = tempDir('ccgate-crash-');
  const dbPath = join(dir, 'registry.db');
  const acked: Acked = { groups: new Map(), clients: new Map(), tokens: [], revoked: new Set(), revokeAttempted: new Set() };
  let server = await startChildServer(dbPath);
  try {
    expect((await server.adminPost('/admin/groups', { name: 'base', scopes: ['reports:read'] })).status).toBe(201);
    // Warm up (the first token generates and persists the signing key) outside the burst.
    const warm = await server.adminPost('/admin/clients', { name: 'warm-up', groups: ['base'] });
    expect((await server.tokenRequest(warm.body.client_id, warm.body.client_secret)).status).toBe(200);
    acked.warmUpId = warm.body.client_id;

    for (let cycle = 0; cycle < 2; cycle++) {
      const start = { clients: acked.clients.size, tokens: acked.tokens.length, revoked: acked.revoked.size };
      const run = burst(server, acked, String(cycle));
      // Kill once writes of every kind have been acknowledged in this cycle, at a random moment after.
      const deadline = Date.now() + 20_000;
      while (
        Date.now() < deadline &&
        (acked.clients.size < start.clients + 10 || acked.tokens.length < start.tokens + 10 || acked.revoked.size < start.revoked + 3)
      ) {
        await sleep(10);
      }
      await sleep(Math.floor(Math.random() * 300));
      const before = { clients: acked.clients.size - start.clients, tokens: acked.tokens.length - start.tokens, revoked: acked.revoked.size - start.revoked };
      await server.kill9();
      run.stop();
      await run.done;
      // The burst really was mid-flight: writes of every kind had been acknowledged.
      if (process.env.ADV_DEBUG) console.log(before);
      expect(before.clients).toBeGreaterThanOrEqual(10);
      expect(before.tokens).toBeGreaterThanOrEqual(10);
      expect(before.revoked).toBeGreaterThanOrEqual(3);

      server = await startChildServer(dbPath);
      checkFile(dbPath, acked);
      await checkServer(server, acked);
    }
  } finally {
    await server.stop();
    cleanup();
  }
});
