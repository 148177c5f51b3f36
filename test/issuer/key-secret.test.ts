/**
 * ccgate()'s key secret: private signing keys encrypted at rest, refused to start unencrypted in
 * production, and a wrong secret answered as a clear 503 (never a 500 or a stack trace) while the
 * guard, which needs no private key, keeps working. In process, real SQLite files, supertest.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import request from 'supertest';
import { ccgate, ConfigurationError, KeyProtectionError, type CcgateOptions } from '../../lib';
import type * as KeySecretsModule from '../../lib/key-secrets';
import { seedClient } from '../support/clients';
import { bearerGet, getToken } from '../support/oauth';
import { createTestServer, TEST_OPTIONS, testApp, type TestServer } from '../support/servers';
import { tempDir } from '../support/temp';

const secret = (): string => randomBytes(32).toString('base64');
const SECRET_A = secret();
const SECRET_B = secret();

const storedPems = (path: string): string[] => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare<[], string>('SELECT private_pem FROM signing_keys').pluck().all();
  } finally {
    db.close();
  }
};

/** Runs `fn` with process.env changed as given (undefined deletes), then restores it. */
async function withEnv<T>(changes: Record<string, string | undefined>, fn: () => Promise<T> | T): Promise<T> {
  const saved = Object.fromEntries(Object.keys(changes).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(changes);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
const server = (options: Partial<CcgateOptions>): TestServer => {
  const s = createTestServer(options);
  servers.push(s);
  return s;
};

describe('without a key secret', () => {
  test('NODE_ENV=production: ccgate() refuses to start, naming keySecret, unless allowUnencryptedKeys', () =>
    withEnv({ NODE_ENV: 'production', CCGATE_KEY_SECRET: undefined }, () => {
      const { dir, cleanup } = tempDir();
      try {
        const options = { ...TEST_OPTIONS, db: join(dir, 'r.db'), allowUnencryptedKeys: undefined };
        expect(() => ccgate(options)).toThrow(ConfigurationError);
        expect(() => ccgate(options)).toThrow(expect.objectContaining({ option: 'keySecret', message: expect.stringContaining('allowUnencryptedKeys') }));
        expect(() => server({ allowUnencryptedKeys: true })).not.toThrow();
      } finally {
        cleanup();
      }
    }));

  test('NODE_ENV=production with CCGATE_KEY_SECRET in the environment: starts, and its keys are encrypted', () =>
    withEnv({ NODE_ENV: 'production', CCGATE_KEY_SECRET: SECRET_A }, async () => {
      const s = server({ allowUnencryptedKeys: undefined, requireHttps: false });
      await s.auth.ready();
      expect(storedPems(s.dbPath)).toEqual([expect.stringMatching(/^ccgate-key\.v1\./)]);
    }));

  test('elsewhere: one warning per process (code CCGATE_UNENCRYPTED_KEYS), none when allowed', () => {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh module: its warn-once flag unset
      const { resolveKeySecrets } = require('../../lib/key-secrets') as typeof KeySecretsModule;
      const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        expect(resolveKeySecrets({ allowUnencryptedKeys: true }, {})).toEqual({ keySecret: undefined, previousKeySecrets: [] });
        expect(warn).not.toHaveBeenCalled();
        resolveKeySecrets({}, {});
        resolveKeySecrets({}, { NODE_ENV: 'test' });
        expect(warn).toHaveBeenCalledTimes(1);
        expect(warn).toHaveBeenCalledWith(expect.stringContaining('stored unencrypted'), { code: 'CCGATE_UNENCRYPTED_KEYS' });
        expect(resolveKeySecrets({ keySecret: SECRET_A }, { CCGATE_KEY_SECRET: SECRET_B })).toEqual({ keySecret: SECRET_A, previousKeySecrets: [] });
      } finally {
        warn.mockRestore();
      }
    });
  });
});

describe('with a key secret', () => {
  test('tokens are signed with a key stored encrypted; the JWKS serves its public half', async () => {
    const s = server({ keySecret: SECRET_A });
    const client = await seedClient(s.auth);
    const token = await getToken(s, client.clientId, client.clientSecret);
    expect((await bearerGet(s.app, token)).status).toBe(200);
    const [stored] = storedPems(s.dbPath);
    expect(stored).not.toContain('PRIVATE KEY');
    const jwks = await request(s.app).get('/oauth/jwks');
    expect(jwks.body.keys).toHaveLength(1);
    expect(Object.keys(jwks.body.keys[0]).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  test('a wrong secret: the token endpoint answers 503 and reports KeyProtectionError; ready() rejects; the guard still works', async () => {
    const right = server({ keySecret: SECRET_A });
    const client = await seedClient(right.auth);
    const token = await getToken(right, client.clientId, client.clientSecret);

    const faults: unknown[] = [];
    const wrong = ccgate({ ...TEST_OPTIONS, db: right.dbPath, keySecret: SECRET_B, onServerError: (e) => faults.push(e) });
    try {
      const app = testApp(wrong);
      await expect(wrong.ready()).rejects.toThrow(KeyProtectionError);
      const res = await request(app).post('/oauth/token').auth(client.clientId, client.clientSecret).type('form').send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'The issuer cannot use its signing key right now; retry later.' });
      expect(faults.some((f) => f instanceof KeyProtectionError && f.reason === 'unknown_secret')).toBe(true);
      // Verification needs only public keys: the guard and the JWKS are unaffected.
      expect((await bearerGet(app, token)).status).toBe(200);
      expect((await request(app).get('/oauth/jwks')).status).toBe(200);
    } finally {
      await wrong.close();
    }
  });

  test('ready() names the keys still stored as plain PEM (a registry from before encryption): run `ccgate key rewrap`', async () => {
    const legacy = server({});
    const kid = (await legacy.auth.registry.ensureSigningKey('RS256')).kid;
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const upgraded = ccgate({ ...TEST_OPTIONS, db: legacy.dbPath, keySecret: SECRET_A });
    try {
      await upgraded.ready();
      expect(warn).toHaveBeenCalledWith(`ccgate: 1 signing key(s) are stored unencrypted (${kid}); run \`ccgate key rewrap\` to encrypt them`, {
        code: 'CCGATE_UNENCRYPTED_KEYS',
      });
      expect(storedPems(legacy.dbPath)[0]).toContain('PRIVATE KEY'); // not changed behind the operator's back
    } finally {
      warn.mockRestore();
      await upgraded.close();
    }
  });

  test('a rotated secret: the old one as previousKeySecrets keeps signing until the rewrap', async () => {
    const before = server({ keySecret: SECRET_A });
    const client = await seedClient(before.auth);
    const kid = (await before.auth.registry.ensureSigningKey('RS256')).kid;
    const rotating = ccgate({ ...TEST_OPTIONS, db: before.dbPath, keySecret: SECRET_B, previousKeySecrets: [SECRET_A] });
    try {
      const token = await getToken({ app: testApp(rotating) }, client.clientId, client.clientSecret);
      expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid).toBe(kid);
      expect((await rotating.registry.rewrapKeys()).rewrapped).toEqual([kid]);
    } finally {
      await rotating.close();
    }
    const after = ccgate({ ...TEST_OPTIONS, db: before.dbPath, keySecret: SECRET_B });
    try {
      await expect(after.ready()).resolves.toBeUndefined();
    } finally {
      await after.close();
    }
  });
});
