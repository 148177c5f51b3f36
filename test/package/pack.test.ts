/**
 * The package as a user gets it: `npm pack` the repository (dist/ must be built: `npm test` builds
 * first), install the tarball into a fresh project in a temp folder, and use it there: the `ccgate`
 * bin through npx, `require('ccgate')`, `import('ccgate')` and the TypeScript types.
 *
 * Fast and offline: the temp project gets a lock file made of ccgate's tarball plus the repository's
 * own production entries (same versions and integrity hashes), so `npm ci --prefer-offline` takes
 * every dependency from the npm cache that the repository's `npm ci` filled, and contacts the
 * registry only for a package missing from it. It runs with --ignore-scripts, so better-sqlite3 is
 * not compiled again: its native addon is copied from the repository's node_modules, built for the
 * very same version.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/constants';
import { tempDir } from '../support/temp';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

interface PackResult {
  filename: string;
  integrity: string;
  files: { path: string }[];
}
interface LockEntry {
  dev?: boolean;
  version?: string;
  [key: string]: unknown;
}
interface Manifest {
  name: string;
  version: string;
  license: string;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
}

let tmp: string;
let removeTmp: (() => void) | undefined;
let project: string;
let packed: string[];

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', shell: process.platform === 'win32', timeout: 90_000 });
  if (result.error) throw result.error;
  return result;
}

function ok(command: string, args: string[], cwd: string): string {
  const result = run(command, args, cwd);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

/** Files under dir (relative, with forward slashes) whose names end with one of the suffixes. */
function walk(dir: string, suffixes: string[], prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = `${prefix}${entry.name}`;
    if (entry.isDirectory()) return walk(path.join(dir, entry.name), suffixes, `${rel}/`);
    return suffixes.some((s) => entry.name.endsWith(s)) ? [rel] : [];
  });
}

beforeAll(() => {
  if (!existsSync(path.join(ROOT, 'dist', 'lib', 'index.js'))) throw new Error('dist/lib is not built: run `npm run build` first (`npm test` does)');
  ({ dir: tmp, cleanup: removeTmp } = tempDir('ccgate-pack-'));
  project = path.join(tmp, 'project');
  mkdirSync(project);

  // --ignore-scripts: pack what is built; `prepare`/`prepack` would rebuild dist/ under the other test files.
  const [pack] = JSON.parse(ok(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT)) as PackResult[];
  packed = pack.files.map((f) => f.path);

  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
  const repoLock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const spec = `file:../${pack.filename}`;
  const packages: Record<string, unknown> = {
    '': { name: 'ccgate-pack-check', version: '0.0.0', dependencies: { ccgate: spec } },
    'node_modules/ccgate': {
      version: manifest.version,
      resolved: spec,
      integrity: pack.integrity,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  // The repository's production tree (ccgate's dependencies and theirs), as npm ci resolved it.
  for (const [key, entry] of Object.entries(repoLock.packages)) if (key.startsWith('node_modules/') && !entry.dev) packages[key] = entry;
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'ccgate-pack-check', version: '0.0.0', private: true, dependencies: { ccgate: spec } }, null, 2)}\n`,
  );
  writeFileSync(
    path.join(project, 'package-lock.json'),
    `${JSON.stringify({ name: 'ccgate-pack-check', version: '0.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
  ok(NPM, ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);

  // better-sqlite3's install script (node-gyp) was skipped: reuse the repository's build of the same version.
  const repoSqlite = path.join(ROOT, 'node_modules', 'better-sqlite3');
  const installedSqlite = path.join(project, 'node_modules', 'better-sqlite3');
  const version = (dir: string): string => (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  expect(version(installedSqlite)).toBe(version(repoSqlite));
  const addon = path.join('build', 'Release', 'better_sqlite3.node');
  if (!existsSync(path.join(repoSqlite, addon))) throw new Error(`${path.join(repoSqlite, addon)} is missing: better-sqlite3 was installed without its build`);
  mkdirSync(path.join(installedSqlite, 'build', 'Release'), { recursive: true });
  copyFileSync(path.join(repoSqlite, addon), path.join(installedSqlite, addon));
}, 120_000);

afterAll(() => {
  removeTmp?.();
});

test('the tarball holds the compiled library, README.md and LICENSE only', () => {
  const stray = packed.filter(
    (f) => !['package.json', 'README.md', 'LICENSE'].includes(f) && !/^dist\/lib\/.+(?<!\.d)\.js$/.test(f) && !/^dist\/lib\/.+\.d\.ts$/.test(f),
  );
  expect(stray).toEqual([]);
  expect(packed).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/main.js']));
});

test('every packed file comes from a lib/ source, and every lib/ source is packed (no stale or missing build output)', () => {
  const sources = walk(path.join(ROOT, 'lib'), ['.ts']).filter((f) => !f.endsWith('.d.ts'));
  const expected = sources.flatMap((f) => [`dist/lib/${f.replace(/\.ts$/, '.js')}`, `dist/lib/${f.replace(/\.ts$/, '.d.ts')}`]);
  const built = packed.filter((f) => f.startsWith('dist/'));
  const stale = built.filter((f) => !expected.includes(f));
  // tsc never deletes the output of a renamed or deleted source; it would ship, and dist/lib/x.js shadows a new
  // dist/lib/x/index.js. `npm pack`/`npm publish` run prepack (clean + build); this check packs with --ignore-scripts.
  if (stale.length > 0) throw new Error(`dist/lib holds build output without a lib/ source: ${stale.join(', ')}. Run \`npm run clean && npm run build\`.`);
  expect(expected.filter((f) => !built.includes(f))).toEqual([]);
});

/** `npx ccgate ...` in the temp project; --no: never fetch a package named ccgate from the registry instead. */
const ccgateCli = (args: string[]): string[] => ['--no', '--', 'ccgate', ...args];

test('npm linked the bin', () => {
  expect(existsSync(path.join(project, 'node_modules', '.bin', process.platform === 'win32' ? 'ccgate.cmd' : 'ccgate'))).toBe(true);
});

test('npx ccgate --help prints the usage and exits 0', () => {
  const result = run(NPX, ccgateCli(['--help']), project);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/^Usage: ccgate /);
});

test('the installed CLI works on a registry file (native better-sqlite3 loads)', () => {
  const db = path.join(tmp, 'registry.db');
  ok(NPX, ccgateCli(['--db', db, 'group', 'create', 'reporting', '--scopes', 'reports:read']), project);
  const groups = JSON.parse(ok(NPX, ccgateCli(['--db', db, '--json', 'group', 'list']), project)) as unknown;
  expect(JSON.stringify(groups)).toContain('reports:read');
});

const CHECK_EXPORTS = `
  const names = Object.keys(mod).filter((k) => k !== 'default' && k !== '__esModule').sort();
  for (const name of ['ccgate', 'openRegistry']) if (typeof mod[name] !== 'function') throw new Error(name + ' is ' + typeof mod[name]);
  process.stdout.write(JSON.stringify(names));
`;

test("require('ccgate') and import('ccgate') give the same named exports; deep imports are closed", () => {
  writeFileSync(path.join(project, 'check.cjs'), `const mod = require('ccgate');\n${CHECK_EXPORTS}`);
  writeFileSync(
    path.join(project, 'check.mjs'),
    `import * as mod from 'ccgate';\nimport { ccgate, openRegistry } from 'ccgate';\nvoid ccgate, openRegistry;\n${CHECK_EXPORTS}`,
  );
  const required = JSON.parse(ok(process.execPath, ['check.cjs'], project)) as string[];
  const imported = JSON.parse(ok(process.execPath, ['check.mjs'], project)) as string[];
  expect(required).toEqual(expect.arrayContaining(['ccgate', 'openRegistry']));
  expect(imported).toEqual(required);

  const deep = run(process.execPath, ['-e', "require('ccgate/dist/lib/tokens')"], project);
  expect(deep.status).not.toBe(0);
  expect(deep.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  expect(ok(process.execPath, ['-p', "require('ccgate/package.json').name"], project).trim()).toBe('ccgate');
});

test('TypeScript finds the types through "exports" from ESM and CommonJS', () => {
  // The expect-error directive below fails the compile if the import were untyped (any).
  const body = [
    "import { ccgate, openRegistry, type CcgateOptions } from 'ccgate';",
    'export type O = CcgateOptions;',
    'export const r: typeof openRegistry = openRegistry;',
    '// @ts-expect-error ccgate is a function, not a number',
    'export const n: number = ccgate;',
    '',
  ].join('\n');
  writeFileSync(path.join(project, 'consumer.mts'), body);
  writeFileSync(path.join(project, 'consumer.cts'), body);
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck'];
  ok(process.execPath, [tsc, ...args, '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), 'consumer.mts', 'consumer.cts'], project);
});
