/** Third-party OAuth libraries, run as scripts (fixtures/interop/*.mjs: ESM-only packages). */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { FIXTURES } from './constants';

/** Runs fixtures/interop/<script> with `node`, input as JSON in argv[2]; returns its JSON output. */
export function runInterop<T = any>(script: string, input: unknown): Promise<T> {
  const path = join(FIXTURES, 'interop', script);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path, JSON.stringify(input)], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${script} printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}
