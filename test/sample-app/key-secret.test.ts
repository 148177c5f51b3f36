/**
 * The sample app keeps its two-command start with encrypted signing keys: it makes a key secret on
 * its first start, in a file only its owner may read (0600), and reuses it afterwards.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { keySecretFile, sampleKeySecret } from '../../sample-app/key-secret';
import { ROOT } from '../support/constants';
import { spawnNode, waitForOutput } from '../support/processes';
import { tempDir } from '../support/temp';

const SERVER_JS = path.join(ROOT, 'dist', 'sample-app', 'server.js');

test('sampleKeySecret: CCGATE_KEY_SECRET wins; else the file beside the registry, made once (0600) and then reused', () => {
  const tmp = tempDir('ccgate-sample-secret-');
  try {
    const db = path.join(tmp.dir, 'ccgate.db');
    expect(sampleKeySecret({ CCGATE_KEY_SECRET: 'from-the-environment' }, db)).toEqual({ secret: 'from-the-environment', created: false });
    const first = sampleKeySecret({}, db);
    expect(first).toEqual({ secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), file: `${db}.key-secret`, created: true });
    expect(statSync(first.file!).mode & 0o777).toBe(0o600);
    expect(sampleKeySecret({}, db)).toEqual({ secret: first.secret, file: first.file, created: false });
    writeFileSync(first.file!, '  kept-by-hand  \n');
    expect(sampleKeySecret({}, db).secret).toBe('kept-by-hand');
    expect(keySecretFile('postgres://127.0.0.1/ccgate')).toBe(path.join(ROOT, 'sample-app', 'ccgate.key-secret'));
  } finally {
    tmp.cleanup();
  }
});

test('the built sample server (NODE_ENV=production) starts with its own secret file and stores its signing key encrypted', async () => {
  const tmp = tempDir('ccgate-sample-secret-');
  const db = path.join(tmp.dir, 'ccgate.db');
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    CCGATE_DB: db,
    CCGATE_ISSUER: '',
    CCGATE_AUDIENCE: '',
    CCGATE_KEY_SECRET: '',
    NODE_ENV: 'production',
  };
  try {
    for (const start of ['first', 'second']) {
      const server = spawnNode(SERVER_JS, [], { cwd: ROOT, env });
      try {
        await waitForOutput(server, /^Listening on /m);
        expect({ start, created: server.stdout().includes(`Created ${db}.key-secret (mode 0600)`) }).toEqual({ start, created: start === 'first' });
        server.proc.kill('SIGTERM');
        expect(await server.exited).toEqual({ code: 0, signal: null });
      } finally {
        if (server.running()) server.proc.kill('SIGKILL');
        await server.exited;
      }
    }
    expect(statSync(`${db}.key-secret`).mode & 0o777).toBe(0o600);
    expect(statSync(db).mode & 0o777).toBe(0o600);
    const registry = new Database(db, { readonly: true });
    try {
      const stored = registry.prepare<[], string>('SELECT private_pem FROM signing_keys').pluck().all();
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatch(/^ccgate-key\.v1\./);
      expect(stored[0]).not.toContain(readFileSync(`${db}.key-secret`, 'utf8').trim());
    } finally {
      registry.close();
    }
  } finally {
    tmp.cleanup();
  }
});
