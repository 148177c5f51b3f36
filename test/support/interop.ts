/** Third-party OAuth clients: libraries run as scripts (fixtures/interop/*.mjs: ESM-only packages), and curl. */
import { execFile, spawnSync } from 'node:child_process';
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

/** Whether curl is on this machine: the tests that run it are skipped without it. */
export const HAS_CURL = spawnSync('curl', ['--version']).status === 0;

export interface CurlReply {
  status: number;
  /** Response headers by lower-case name (the last of a repeated one). */
  headers: Record<string, string>;
  body: string;
}

/** Runs `curl -s -i ...args` (as an operator would type it) and reads the response it prints. */
export function curl(args: string[]): Promise<CurlReply> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-i', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl failed: ${err.message}\n${stderr}`));
      const split = stdout.indexOf('\r\n\r\n');
      const head = stdout.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(head[0].split(' ')[1]), headers, body: stdout.slice(split + 4) });
    });
  });
}
