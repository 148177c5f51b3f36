// private_key_jwt clients from the CLI: client create --auth-method, --jwks FILE|-, --jwks-uri, client set-jwks.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { tempCliDb, type ClientJson, type CreatedJson, type TempCliDb } from '../support/cli';

interface TestKey {
  kid: string;
  publicJwk: Record<string, string>;
  privateJwk: Record<string, string>;
}

/** A key pair as JWKs, made with node:crypto: RSA 2048 (RS256) or EC P-256 (ES256). */
function testKey(kid: string, kty: 'RSA' | 'EC' = 'RSA'): TestKey {
  const pair = kty === 'EC' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const alg = kty === 'EC' ? 'ES256' : 'RS256';
  return {
    kid,
    publicJwk: { ...(pair.publicKey.export({ format: 'jwk' }) as Record<string, string>), kid, alg, use: 'sig' },
    privateJwk: { ...(pair.privateKey.export({ format: 'jwk' }) as Record<string, string>), kid, alg, use: 'sig' },
  };
}

const jwksText = (...jwks: Array<Record<string, string>>): string => JSON.stringify({ keys: jwks });

// Generated once: RSA key generation is the slow part.
const k1 = testKey('k1');
const k2 = testKey('k2', 'EC');

let t: TempCliDb;
beforeEach(() => {
  t = tempCliDb();
  t.cli(['group', 'create', 'reporting', '--scopes', 'reports:read']);
});
afterEach(() => t.cleanup());

/** Writes `text` to a file in the temp dir; returns its path. */
function file(name: string, text: string): string {
  const path = join(t.dir, name);
  writeFileSync(path, text);
  return path;
}

const stored = (id: string) => t.withRegistry((r) => r.getClient(id));
const clientCount = () => t.withRegistry(async (r) => (await r.listClients()).length);
const createJwt = (args: string[], input?: string) => t.json<CreatedJson>(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', ...args], { input });

describe('client create --auth-method private_key_jwt', () => {
  test('--jwks FILE: --json prints the client_id only; the public key is stored, no secret', async () => {
    const r = t.cli([
      '--json',
      'client',
      'create',
      'edge',
      '--groups',
      'reporting',
      '--auth-method',
      'private_key_jwt',
      '--jwks',
      file('keys.json', jwksText(k1.publicJwk)),
    ]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { client_id: string };
    expect(out).toEqual({ client_id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) });
    expect(r.stderr).toBe('');
    const client = await stored(out.client_id);
    expect(client).toMatchObject({ authMethod: 'private_key_jwt', type: 'confidential', jwksUri: null, secrets: [], scopes: ['reports:read'] });
    expect(client?.jwks?.keys).toEqual([{ kty: 'RSA', kid: 'k1', use: 'sig', alg: 'RS256', n: k1.publicJwk.n, e: k1.publicJwk.e }]);
    expect((await t.withRegistry((reg) => reg.findClientCredentials(out.client_id)))?.secretHashes).toEqual([]);
  });

  test('text mode: client_id, auth method and kids; no secret and no warning about one', () => {
    const r = t.cli(['client', 'create', 'edge', '--auth-method', 'private_key_jwt', '--jwks', file('keys.json', jwksText(k1.publicJwk, k2.publicJwk))]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Created confidential client "edge" \(scopes: none\)\nclient_id:\s+\S{22}\nauth method:\s+private_key_jwt\nkeys:\s+k1 k2\n$/);
    expect(r.stdout).not.toContain('client_secret');
    expect(r.stdout).not.toContain(k1.publicJwk.n);
    expect(r.stderr).toBe('');
  });

  test('--jwks - reads the JWK Set from standard input', async () => {
    const out = t.json<CreatedJson>(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', '-'], { input: jwksText(k2.publicJwk) });
    expect(Object.keys(out)).toEqual(['client_id']);
    expect((await stored(out.client_id))?.jwks?.keys).toEqual([
      { kty: 'EC', kid: 'k2', use: 'sig', alg: 'ES256', crv: 'P-256', x: k2.publicJwk.x, y: k2.publicJwk.y },
    ]);
  });

  test('--jwks-uri URL: the URL is stored, no keys', async () => {
    const out = createJwt(['--jwks-uri', 'https://svc.example.com/.well-known/jwks.json']);
    expect(await stored(out.client_id)).toMatchObject({ authMethod: 'private_key_jwt', jwks: null, jwksUri: 'https://svc.example.com/.well-known/jwks.json' });
    const text = t.cli(['client', 'create', 'other', '--auth-method', 'private_key_jwt', '--jwks-uri', 'https://svc.example.com/jwks']).stdout;
    expect(text).toMatch(/^jwks_uri:\s+https:\/\/svc\.example\.com\/jwks$/m);
  });

  test('a JWKS with private members is refused (exit 1), naming the kid; nothing is created', async () => {
    const r = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', file('private.json', jwksText(k1.privateJwk))]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: jwks: key "k1" contains private key members (d, p, q, dp, dq, qi): register the public key only\n');
    expect(r.stdout).toBe('');
    const ec = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', '-'], { input: jwksText(k1.publicJwk, k2.privateJwk) });
    expect(ec.status).toBe(1);
    expect(ec.stderr).toBe('error: jwks: key "k2" contains private key members (d): register the public key only\n');
    expect(await clientCount()).toBe(0);
  });

  test('a JWKS the registry refuses for another reason: exit 1 with its message', () => {
    const noKid = { ...k1.publicJwk, kid: undefined };
    const r = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', '-'], { input: JSON.stringify({ keys: [noKid] }) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('needs a "kid"');
    const single = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', '-'], { input: JSON.stringify(k1.publicJwk) });
    expect(single.status).toBe(1);
    expect(single.stderr).toContain('a JWK Set is a JSON object with a "keys" array');
    const badUri = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks-uri', 'not a url']);
    expect(badUri.status).toBe(1);
    expect(badUri.stderr).toMatch(/^error: jwks_uri: /);
  });

  test('an unreadable file, a directory, a file that is not JSON: one clear line, exit 1', async () => {
    const missing = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', join(t.dir, 'nope.json')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`error: --jwks: cannot read "${join(t.dir, 'nope.json')}": no such file\n`);
    const dir = join(t.dir, 'a-dir');
    mkdirSync(dir);
    const directory = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', dir]);
    expect(directory.status).toBe(1);
    expect(directory.stderr).toBe(`error: --jwks: cannot read "${dir}": it is a directory\n`);
    const notJson = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', file('keys.txt', 'keys: k1\n')]);
    expect(notJson.status).toBe(1);
    expect(notJson.stderr).toBe(`error: --jwks: "${join(t.dir, 'keys.txt')}" is not JSON\n`);
    const stdin = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', '-'], { input: '{"keys": [' });
    expect(stdin.status).toBe(1);
    expect(stdin.stderr).toBe('error: --jwks: standard input is not JSON\n');
    expect(await clientCount()).toBe(0);
  });

  test('a PEM private key given as --jwks is named as such and never echoed', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const r = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', file('key.pem', pem)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is not JSON: it looks like a PEM key; give the public key as a JWK Set');
    expect(r.stderr).not.toContain(pem.split('\n')[1]);
  });

  test('CCGATE_CLIENT_SECRET is ignored, and said so', async () => {
    const r = t.cli(['--json', 'client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', '-'], {
      input: jwksText(k1.publicJwk),
      env: { CCGATE_CLIENT_SECRET: 'an-exported-secret-0123' },
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('Ignoring CCGATE_CLIENT_SECRET: a private_key_jwt client has no secret.\n');
    expect((await stored((JSON.parse(r.stdout) as CreatedJson).client_id))?.secrets).toEqual([]);
  });
});

describe('client create usage errors (exit 2, nothing created)', () => {
  const keysFile = () => file('keys.json', jwksText(k1.publicJwk));
  test.each<[string, () => string[], string]>([
    [
      '--jwks without private_key_jwt',
      () => ['--jwks', keysFile()],
      '--jwks registers the public keys of a private_key_jwt client: add --auth-method private_key_jwt',
    ],
    [
      '--jwks-uri without private_key_jwt',
      () => ['--jwks-uri', 'https://a.example/jwks'],
      '--jwks-uri registers the public keys of a private_key_jwt client: add',
    ],
    ['--jwks with client_secret_post', () => ['--auth-method', 'client_secret_post', '--jwks', keysFile()], 'not with --auth-method client_secret_post'],
    ['--jwks with client_secret_basic', () => ['--auth-method', 'client_secret_basic', '--jwks', keysFile()], 'not with --auth-method client_secret_basic'],
    [
      'both --jwks and --jwks-uri',
      () => ['--auth-method', 'private_key_jwt', '--jwks', keysFile(), '--jwks-uri', 'https://a.example/jwks'],
      "option '--jwks-uri <url>' cannot be used with option '--jwks <file>'",
    ],
    [
      'private_key_jwt without keys',
      () => ['--auth-method', 'private_key_jwt'],
      "--auth-method private_key_jwt needs the client's public keys: --jwks FILE (- reads standard input) or --jwks-uri URL",
    ],
    [
      'private_key_jwt with --secret',
      () => ['--auth-method', 'private_key_jwt', '--jwks', keysFile(), '--secret', 'a-secret-0123456789'],
      'a private_key_jwt client has no secret: drop --secret / --secret-stdin',
    ],
    [
      'private_key_jwt with --secret-stdin',
      () => ['--auth-method', 'private_key_jwt', '--jwks-uri', 'https://a.example/jwks', '--secret-stdin'],
      'has no secret',
    ],
    [
      '--public with an auth method',
      () => ['--public', '--auth-method', 'private_key_jwt'],
      "option '--public' cannot be used with option '--auth-method <method>'",
    ],
    ['--public with --jwks', () => ['--public', '--jwks', keysFile()], "option '--public' cannot be used with option '--jwks <file>'"],
    [
      'an unknown auth method',
      () => ['--auth-method', 'tls_client_auth'],
      "argument 'tls_client_auth' is invalid. Allowed choices are client_secret_basic, client_secret_post, private_key_jwt",
    ],
  ])('%s', async (_name, args, message) => {
    const r = t.cli(['client', 'create', 'svc', ...args()], { input: 'a-secret-0123456789\n' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
    expect(await clientCount()).toBe(0);
  });

  test('--jwks - with nothing on standard input', () => {
    const r = t.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', '-'], { input: '' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('error: --jwks -: no JWK Set on standard input\n');
  });

  test('a usage error creates no registry file', () => {
    const fresh = tempCliDb();
    try {
      expect(fresh.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt']).status).toBe(2);
      expect(fresh.cli(['client', 'create', 'svc', '--auth-method', 'private_key_jwt', '--jwks', join(fresh.dir, 'nope.json')]).status).toBe(1);
      expect(fresh.cli(['client', 'list']).stderr).toContain('does not exist');
    } finally {
      fresh.cleanup();
    }
  });
});

describe('client secret methods', () => {
  const secretWorks = (clientId: string, secret: string) =>
    t.withRegistry(async (r) => {
      for (const hash of (await r.findClientCredentials(clientId))?.secretHashes ?? []) if (await bcrypt.compare(secret, hash)) return true;
      return false;
    });

  test.each(['client_secret_post', 'client_secret_basic'])('--auth-method %s: a secret, printed once, the method stored', async (method) => {
    const out = t.json<CreatedJson>(['client', 'create', 'svc', '--auth-method', method]);
    expect(Object.keys(out)).toEqual(['client_id', 'client_secret']);
    expect(await secretWorks(out.client_id, out.client_secret as string)).toBe(true);
    expect((await stored(out.client_id))?.authMethod).toBe(method);
    expect(t.json<ClientJson>(['client', 'show', out.client_id])).toMatchObject({ auth_method: method, jwks: null, jwks_uri: null });
    expect(t.cli(['client', 'show', out.client_id]).stdout).toMatch(new RegExp(`^auth method:\\s+${method}$`, 'm'));
  });

  test('without --auth-method: client_secret_basic, as before', async () => {
    const out = t.json<CreatedJson>(['client', 'create', 'svc']);
    expect((await stored(out.client_id))?.authMethod).toBe('client_secret_basic');
  });

  test('a private_key_jwt client has no secret to rotate', () => {
    const out = createJwt(['--jwks-uri', 'https://svc.example.com/jwks']);
    const r = t.cli(['client', 'rotate-secret', out.client_id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('has no secret');
  });
});

describe('client show and list', () => {
  test('show: the auth method and the kids with type and algorithm, never key material; JSON has the public JWKS', () => {
    const { alg: _alg, ...k2NoAlg } = k2.publicJwk;
    const { client_id: id } = createJwt(['--groups', 'reporting', '--jwks', '-'], jwksText(k1.publicJwk, k2NoAlg));
    const text = t.cli(['client', 'show', id]).stdout;
    expect(text).toMatch(/^auth method:\s+private_key_jwt$/m);
    expect(text).toMatch(/\nkeys:\n {2}KID\s+TYPE\s+ALG\n {2}k1\s+RSA\s+RS256\n {2}k2\s+EC\s+ES256\n$/);
    expect(text).not.toContain('secrets:');
    for (const member of [k1.publicJwk.n, k2.publicJwk.x, k2.publicJwk.y]) expect(text).not.toContain(member);
    const shown = t.json<ClientJson>(['client', 'show', id]);
    expect(shown).toMatchObject({ auth_method: 'private_key_jwt', secrets: [], jwks_uri: null });
    expect(shown.jwks?.keys.map((k) => k.kid)).toEqual(['k1', 'k2']);
    expect(shown.jwks?.keys[0]).toEqual({ kty: 'RSA', kid: 'k1', use: 'sig', alg: 'RS256', n: k1.publicJwk.n, e: k1.publicJwk.e });
    for (const out of [text, JSON.stringify(shown), t.cli(['client', 'list']).stdout, t.cli(['--json', 'client', 'list']).stdout]) {
      expect(out).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
      expect(out).not.toContain(k1.privateJwk.d);
      expect(out).not.toContain(k2.privateJwk.d);
    }
  });

  test('an RSA key without alg shows both algorithms it may sign with', () => {
    const { alg: _alg, ...noAlg } = k1.publicJwk;
    const { client_id: id } = createJwt(['--jwks', '-'], jwksText(noAlg));
    expect(t.cli(['client', 'show', id]).stdout).toMatch(/^ {2}k1\s+RSA\s+RS256 PS256$/m);
  });

  test('show with a jwks_uri: the URL, no keys table', () => {
    const { client_id: id } = createJwt(['--jwks-uri', 'https://svc.example.com/jwks']);
    const text = t.cli(['client', 'show', id]).stdout;
    expect(text).toMatch(/^jwks_uri:\s+https:\/\/svc\.example\.com\/jwks\n$/m);
    expect(text).not.toContain('keys:');
    expect(t.json<ClientJson>(['client', 'show', id])).toMatchObject({ jwks: null, jwks_uri: 'https://svc.example.com/jwks' });
  });

  test('list: the auth method column', () => {
    const { client_id: id } = createJwt(['--jwks', '-'], jwksText(k1.publicJwk));
    expect(t.cli(['client', 'list']).stdout).toMatch(new RegExp(`^${id}\\s+svc\\s+confidential\\s+private_key_jwt\\s+yes\\s`, 'm'));
    expect(t.json<ClientJson[]>(['client', 'list'])[0]).toMatchObject({ client_id: id, auth_method: 'private_key_jwt' });
  });
});

describe('client set-jwks', () => {
  const kidsShown = (id: string) => t.json<ClientJson>(['client', 'show', id]).jwks?.keys.map((k) => k.kid);

  test('rollover: old and new together, then the new one alone; each set replaces the previous at once', async () => {
    const { client_id: id } = createJwt(['--jwks', '-'], jwksText(k1.publicJwk));
    const both = t.cli(['client', 'set-jwks', id, '--jwks', file('both.json', jwksText(k1.publicJwk, k2.publicJwk))]);
    expect(both.status).toBe(0);
    expect(both.stdout).toBe(`Client ${id} now authenticates with keys k1 k2; the previous keys no longer work.\n`);
    expect(kidsShown(id)).toEqual(['k1', 'k2']);
    const updated = t.json<ClientJson>(['client', 'set-jwks', id, '--jwks', '-'], { input: jwksText(k2.publicJwk) });
    expect(updated).toMatchObject({ client_id: id, auth_method: 'private_key_jwt', jwks_uri: null });
    expect(updated.jwks?.keys.map((k) => k.kid)).toEqual(['k2']);
    expect(t.cli(['client', 'show', id]).stdout).toMatch(/\nkeys:\n {2}KID\s+TYPE\s+ALG\n {2}k2\s+EC\s+ES256\n$/);
    expect((await stored(id))?.jwks?.keys.map((k) => k.kid)).toEqual(['k2']);
  });

  test('from keys to a jwks_uri and back', () => {
    const { client_id: id } = createJwt(['--jwks', '-'], jwksText(k1.publicJwk));
    const r = t.cli(['client', 'set-jwks', id, '--jwks-uri', 'https://svc.example.com/jwks']);
    expect(r.stdout).toBe(`Client ${id} now authenticates with the keys at https://svc.example.com/jwks; the previous keys no longer work.\n`);
    expect(t.json<ClientJson>(['client', 'show', id])).toMatchObject({ jwks: null, jwks_uri: 'https://svc.example.com/jwks' });
    t.cli(['client', 'set-jwks', id, '--jwks', '-'], { input: jwksText(k1.publicJwk) });
    expect(t.json<ClientJson>(['client', 'show', id])).toMatchObject({ jwks_uri: null });
    expect(kidsShown(id)).toEqual(['k1']);
  });

  test('private members are refused, naming the kid, and the registered keys stay', () => {
    const { client_id: id } = createJwt(['--jwks', '-'], jwksText(k1.publicJwk));
    const r = t.cli(['client', 'set-jwks', id, '--jwks', '-'], { input: jwksText(k2.publicJwk, k1.privateJwk) });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: jwks: key "k1" contains private key members (d, p, q, dp, dq, qi): register the public key only\n');
    expect(kidsShown(id)).toEqual(['k1']);
  });

  test('refused: a client with a secret, an unknown client (exit 1)', () => {
    const secretClient = t.json<CreatedJson>(['client', 'create', 'basic']);
    const r = t.cli(['client', 'set-jwks', secretClient.client_id, '--jwks-uri', 'https://svc.example.com/jwks']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`error: client "${secretClient.client_id}" authenticates with client_secret_basic, not private_key_jwt\n`);
    const unknown = t.cli(['client', 'set-jwks', 'no-such-client', '--jwks', '-'], { input: jwksText(k1.publicJwk) });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe('error: client "no-such-client" not found\n');
  });

  test.each<[string, (id: string) => string[], string]>([
    ['neither option', (id) => [id], "client set-jwks needs the client's public keys: --jwks FILE (- reads standard input) or --jwks-uri URL"],
    [
      'both options',
      (id) => [id, '--jwks', '-', '--jwks-uri', 'https://svc.example.com/jwks'],
      "option '--jwks-uri <url>' cannot be used with option '--jwks <file>'",
    ],
    ['no client id', () => ['--jwks', '-'], "missing required argument 'id'"],
  ])('usage error: %s (exit 2)', (_name, args, message) => {
    const { client_id: id } = createJwt(['--jwks', '-'], jwksText(k1.publicJwk));
    const r = t.cli(['client', 'set-jwks', ...args(id)], { input: jwksText(k2.publicJwk) });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(kidsShown(id)).toEqual(['k1']);
  });
});
