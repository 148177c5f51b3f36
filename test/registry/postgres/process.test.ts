import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describePostgres, useTestDatabase } from '../../support/postgres';

const LIB = join(__dirname, '../../../lib/registry/postgres');

/**
 * Runs `body` in a fresh node process with the storage's TypeScript sources loaded through a
 * transpile-only hook (no build needed); resolves with its exit code, output and run time.
 */
function runScript(body: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const script = `
    const ts = require('typescript');
    const fs = require('node:fs');
    require.extensions['.ts'] = (module, file) => {
      const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
      module._compile(outputText, file);
    };
    const { PostgresStorage } = require(${JSON.stringify(LIB)});
    ${body}
  `;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, ...env }, cwd: join(__dirname, '../../..') });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describePostgres('PostgreSQL storage in a process of its own', () => {
  const db = useTestDatabase();

  test('a script that opens, writes and never closes finishes its work and then exits by itself', async () => {
    const run = await runScript(
      `(async () => {
        const storage = new PostgresStorage(process.env.URL, { maxStalenessMs: 200 });
        await storage.open();
        await storage.groups.insert('from-script', ['a'], 1);
        console.log(JSON.stringify(await storage.groups.get('from-script')));
      })();`,
      { URL: db.url },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ name: 'from-script', scopes: ['a'] });
    // Idle pooled connections (pg's idle timeout is 10 s), the listener and the poll timer did not hold it.
    expect(run.ms).toBeLessThan(8000);
  });

  test('close() holds the process until it is done: what follows `await storage.close()` runs (the CLI reports its errors after it)', async () => {
    const run = await runScript(
      `(async () => {
        const storage = new PostgresStorage(process.env.URL, { maxStalenessMs: 200 });
        await storage.groups.list();
        await storage.close();
        console.log('closed');
        process.exitCode = 3;
      })();`,
      { URL: db.url },
    );
    expect(run.stderr).toBe('');
    expect({ code: run.code, stdout: run.stdout.trim() }).toEqual({ code: 3, stdout: 'closed' });
  });

  test('a database out of reach does not hold a process either: the call fails and the process ends', async () => {
    const run = await runScript(
      `new PostgresStorage('postgres://127.0.0.1:1/none').groups.list().then(
        () => console.log('listed?'),
        (err) => console.log(err.name),
      );`,
      {},
    );
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('RegistryUnavailableError');
  });
});
