/**
 * Fault: the CLI and the server writing one SQLite file at once. 200 `ccgate client create` runs,
 * 8 at a time, while the server issues tokens and records revocations on the same file: no
 * SQLITE_BUSY may surface (every CLI exits 0, every token request is a 200) and every client works.
 */
import { join } from 'node:path';
import { tempDir } from '../support/temp';
import { sleep } from '../support/time';
import { pool, startChildServer } from '../support/processes';
import { runCliAsync, type CliResult } from '../support/cli';

jest.setTimeout(90_000);

const CLIENTS = 200;

test('200 CLI client creations (8 at a time) while the server issues tokens and revokes on the same file', async () => {
  const { dir, cleanup } = tempDir('ccgate-cli-load-');
  const db = join(dir, 'registry.db');
  const server = await startChildServer(db);
  try {
    const group = await runCliAsync(['--json', 'group', 'create', 'reporting', '--scopes', 'reports:read'], { db });
    expect({ status: group.status, stderr: group.stderr }).toEqual({ status: 0, stderr: '' });

    const created: { id: string; secret: string }[] = [];
    const tokenStatuses: number[] = [];
    const revokeStatuses: number[] = [];
    const failures: string[] = [];
    let cliDone = false;

    // The server side of the load: tokens for clients as soon as they exist, and revocations (writes).
    const issuer = async (): Promise<void> => {
      while (!cliDone) {
        const c = created[Math.floor(Math.random() * created.length)];
        if (!c) {
          await sleep(5);
          continue;
        }
        const res = await server.tokenRequest(c.id, c.secret);
        tokenStatuses.push(res.status);
        if (res.status !== 200) {
          failures.push(`token ${res.status} ${res.text}`);
          continue;
        }
        if (tokenStatuses.length % 3 === 0) {
          const r = await server.revoke(c.id, c.secret, res.body.access_token);
          revokeStatuses.push(r.status);
          if (r.status !== 200) failures.push(`revoke ${r.status} ${r.text}`);
        }
      }
    };
    const background = [issuer(), issuer()];

    const started = Date.now();
    const runs: CliResult[] = await pool(
      8,
      Array.from({ length: CLIENTS }, (_, i) => async () => {
        const run = await runCliAsync(['--json', 'client', 'create', `load-client-${i}`, '--groups', 'reporting'], { db });
        if (run.status === 0) {
          const out = JSON.parse(run.stdout) as { client_id: string; client_secret: string };
          created.push({ id: out.client_id, secret: out.client_secret });
        }
        return run;
      }),
    );
    cliDone = true;
    await Promise.all(background);
    const elapsed = Date.now() - started;

    const badRuns = runs.filter((r) => r.status !== 0).map((r) => `exit ${r.status}: ${r.stderr.trim()}`);
    expect(badRuns).toEqual([]);
    expect(runs.map((r) => r.stderr).filter((e) => /BUSY|locked/i.test(e))).toEqual([]);
    expect(failures).toEqual([]);
    expect(created).toHaveLength(CLIENTS);
    expect(new Set(created.map((c) => c.id)).size).toBe(CLIENTS);
    // The load overlapped: the server answered many requests while the CLIs ran.
    expect(tokenStatuses.length).toBeGreaterThan(20);
    expect(revokeStatuses.length).toBeGreaterThan(5);

    // Every one of the 200 clients gets a token now.
    const finals = await pool(
      8,
      created.map((c) => () => server.tokenRequest(c.id, c.secret)),
    );
    expect(finals.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    expect(server.stderr()).not.toMatch(/server error/);
    if (process.env.ADV_DEBUG) console.log({ elapsed, tokens: tokenStatuses.length, revokes: revokeStatuses.length });
  } finally {
    await server.stop();
    cleanup();
  }
});
