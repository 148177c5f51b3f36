/**
 * The CLI on PostgreSQL answers exactly as on SQLite: one scripted session of commands (every group,
 * client, token and key command, with --json and as text, refusals included), run against a fresh
 * SQLite file and a fresh PostgreSQL database, must print the same output and exit with the same
 * status at every step, once what is generated (ids, secrets, kids, key material) is named by order
 * of appearance. Every command runs at a fixed time of its own (fixtures/fixed-clock.js), so times
 * are compared too: as offsets from the session's start.
 */
import { join } from 'node:path';
import { runCliAsync } from '../support/cli';
import { FIXED_CLOCK } from '../support/constants';
import { note } from '../support/instances';
import { b64json } from '../support/jwt';
import { createTestDatabase, describePostgres, type TestDatabase } from '../support/postgres';
import { tempDir } from '../support/temp';

jest.setTimeout(60_000);

/** The session's "now" (Unix seconds); each step runs at START + its offset. */
const START = 1_700_000_000;

interface Step {
  args: string[];
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Names generated values by order of first appearance, and times by their offset from START. */
class Normaliser {
  private readonly names = new Map<string, string>();

  constructor(private readonly db: string) {}

  apply(text: string): string {
    return (
      text
        .split(this.db)
        .join('<db>')
        // Ids, secrets, kids, key material: base64url runs of 20 characters or more (names and scopes here are shorter, or hold a space or a ':').
        .replace(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])/g, (value) => {
          if (!this.names.has(value)) this.names.set(value, `<generated-${this.names.size + 1}:${value.length}>`);
          return this.names.get(value) as string;
        })
        .replace(/\b1\d{9}\b/g, (unix) => offset(Number(unix)))
        .replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\b/g, (iso) => offset(Date.parse(iso) / 1000))
    );
  }
}

const offset = (unix: number): string => `<start${unix >= START ? '+' : ''}${unix - START}>`;

/** The scripted session against `db`; every step as it ran, normalised. */
async function session(db: string): Promise<Step[]> {
  const steps: Step[] = [];
  const run = async (at: number, args: string[]): Promise<string> => {
    const result = await runCliAsync(args, { db, nodeArgs: ['--require', FIXED_CLOCK], env: { TEST_CLOCK_UNIX: String(START + at) } });
    steps.push({ args, status: result.status, stdout: result.stdout, stderr: result.stderr });
    return result.stdout;
  };
  const json = async (at: number, args: string[]): Promise<any> => JSON.parse(await run(at, ['--json', ...args]));

  // Groups.
  await json(0, ['group', 'create', 'readers', '--scopes', 'reports:read reports:list']);
  await json(10, ['group', 'create', 'writers', '--scopes', 'reports:write']);
  await json(20, ['group', 'add-scope', 'readers', 'reports:export']);
  await json(30, ['group', 'remove-scope', 'readers', 'reports:list']);
  await json(40, ['group', 'show', 'readers']);
  // Clients (the second one created in text: its id read off the text).
  const first = (await json(50, ['client', 'create', 'parity client', '--groups', 'readers', '--ttl', '15m'])).client_id as string;
  const second = /client_id:\s+(\S+)/.exec(await run(60, ['client', 'create', 'second client', '--groups', 'readers,writers']))?.[1] ?? 'none';
  await json(70, ['client', 'disable', first]);
  await json(80, ['client', 'enable', first]);
  await json(90, ['client', 'rotate-secret', first, '--overlap', '1h']);
  await json(100, ['client', 'add-group', first, 'writers']);
  await json(110, ['client', 'remove-group', first, 'readers']);
  await json(120, ['client', 'show', first]);
  await run(130, ['client', 'show', first]);
  // Tokens: a JWT (decoded, not verified), a jti whose token has already expired (in text), then the prune.
  const jwt = `${b64json({ alg: 'RS256', typ: 'at+jwt' })}.${b64json({ jti: 'parity-jti-1', client_id: first, exp: START + 900 })}.c2lnbmF0dXJl`;
  await json(140, ['token', 'revoke', jwt]);
  await run(150, ['token', 'revoke', 'parity-jti-2', '--client', second, '--expires-at', String(START + 100)]);
  await json(160, ['token', 'prune']);
  // Keys: the first signs at once; the second, with a lead, retires it when it activates (at +7370);
  // the prune comes once the first key's last token (none) plus the removal margin has passed.
  await json(170, ['key', 'rotate', '--lead', '0']);
  await json(180, ['key', 'rotate', '--lead', '2h']);
  await json(8000, ['key', 'prune']);
  await json(8010, ['key', 'list']);
  // Lists, deletions, refusals: an unknown client (1), a usage mistake (2).
  await json(8020, ['group', 'list']);
  await json(8030, ['client', 'list']);
  await json(8040, ['group', 'delete', 'writers', '--force']);
  await json(8050, ['client', 'delete', second]);
  await run(8060, ['client', 'show', second]);
  await run(8070, ['client', 'create']);
  await json(8080, ['client', 'list']);

  const normaliser = new Normaliser(db);
  return steps.map((step) => ({
    args: step.args.map((arg) => normaliser.apply(arg)),
    status: step.status,
    stdout: normaliser.apply(step.stdout),
    stderr: normaliser.apply(step.stderr),
  }));
}

describePostgres('the CLI against PostgreSQL, exactly as against SQLite', () => {
  let database: TestDatabase;
  let sqlite: { dir: string; cleanup(): void };
  beforeAll(async () => {
    sqlite = tempDir('ccgate-parity-');
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
    sqlite?.cleanup();
  });

  test('one scripted session of every command, --json and text, refusals included: the same output and exit status at every step', async () => {
    const timed = async (db: string): Promise<Step[]> => {
      const started = Date.now();
      const steps = await session(db);
      note('CLI session', { backend: db === database.url ? 'postgres' : 'sqlite', steps: steps.length, ms: Date.now() - started });
      return steps;
    };
    const [onSqlite, onPostgres] = await Promise.all([timed(join(sqlite.dir, 'registry.db')), timed(database.url)]);
    expect(onPostgres).toEqual(onSqlite);

    // The session did what it says: commands succeeded, or were refused as scripted.
    expect(onSqlite.map((step) => step.status).filter((status) => status !== 0)).toEqual([1, 2]);
    const outputOf = (command: string): string => onSqlite.find((step) => step.args.join(' ') === command)?.stdout ?? '';
    expect(outputOf('--json token prune')).toBe('{"removed":1}\n');
    expect(outputOf('--json key prune')).toBe('{"removed":1}\n');
    expect(JSON.parse(onSqlite[onSqlite.length - 1].stdout.replace(/<[^>]+>/g, '0'))).toHaveLength(1);
  });
});
