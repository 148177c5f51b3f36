/** Tokens outlive the process that issued them: keys and clients live in the registry file. */
import { join } from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { ccgate, type Ccgate } from '../../lib';
import { tempDir } from '../support/temp';
import { bearerGet, getToken } from '../support/oauth';
import { decodeJwt } from '../support/jwt';
import { TEST_OPTIONS, testApp } from '../support/servers';

test('RFC 9068 §4: a restart (close, new ccgate on the same file) keeps issued tokens valid and keeps signing with the same key', async () => {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'ccgate.db');
  let first: Ccgate | undefined;
  let second: Ccgate | undefined;
  try {
    first = ccgate({ db, ...TEST_OPTIONS });
    await first.registry.createGroup('g', ['reports:read']);
    const { client, clientSecret } = await first.registry.createClient({ name: 'c', groups: ['g'] });
    const app1 = testApp(first);
    const token = await getToken({ app: app1 }, client.clientId, clientSecret as string);
    expect((await bearerGet(app1, token)).status).toBe(200);
    await first.close();
    first = undefined;

    second = ccgate({ db, ...TEST_OPTIONS });
    const app2 = testApp(second);
    const res = await bearerGet(app2, token);
    expect(res.status).toBe(200);
    expect(res.body.client).toBe(client.clientId);

    // The same client secret still works, and the new token is signed by the same (persisted) key.
    const again = await getToken({ app: app2 }, client.clientId, clientSecret as string);
    expect(decodeJwt(again).header.kid).toBe(decodeJwt(token).header.kid);
    expect(await second.registry.listKeys()).toHaveLength(1);
  } finally {
    await first?.close();
    await second?.close();
    cleanup();
  }
});

test('RFC 7009 §2: a revocation made before a restart still holds after it', async () => {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'ccgate.db');
  let auth: Ccgate | undefined;
  try {
    auth = ccgate({ db, ...TEST_OPTIONS });
    await auth.registry.createGroup('g', ['reports:read']);
    const { client, clientSecret } = await auth.registry.createClient({ name: 'c', groups: ['g'] });
    const token = await getToken({ app: testApp(auth) }, client.clientId, clientSecret as string);
    const { jti, exp } = decodeJwt(token).payload;
    await auth.registry.revokeToken({ jti, clientId: client.clientId, expiresAt: exp });
    await auth.close();

    auth = ccgate({ db, ...TEST_OPTIONS });
    const res = await request(testApp(auth)).get('/api/reports').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
  } finally {
    await auth?.close();
    cleanup();
  }
});

interface TwoInstances {
  /** The serving instance's app, and a seeded client's credentials. */
  app: Express;
  clientId: string;
  clientSecret: string;
  /** A second instance on the same file, as the CLI is. */
  other: Ccgate;
}

/** A server and a second instance on one registry file, with a client in a reports:read group. */
async function withTwoInstances(body: (t: TwoInstances) => Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'ccgate.db');
  const server = ccgate({ db, ...TEST_OPTIONS });
  const other = ccgate({ db, ...TEST_OPTIONS });
  try {
    await server.registry.createGroup('g', ['reports:read']);
    const { client, clientSecret } = await server.registry.createClient({ name: 'c', groups: ['g'] });
    await body({ app: testApp(server), clientId: client.clientId, clientSecret: clientSecret as string, other });
  } finally {
    await other.close();
    await server.close();
    cleanup();
  }
}

test('a second instance on the same file (CLI next to the server) sees a client disabled by the other at once', () =>
  withTwoInstances(async ({ app, clientId, clientSecret, other }) => {
    const token = await getToken({ app }, clientId, clientSecret);
    expect((await bearerGet(app, token)).status).toBe(200);
    await other.registry.setClientEnabled(clientId, false);
    expect((await bearerGet(app, token)).status).toBe(401);
  }));

test('a key rotated by another process is picked up: new tokens carry the new kid, old tokens stay valid', () =>
  withTwoInstances(async ({ app, clientId, clientSecret, other }) => {
    const oldToken = await getToken({ app }, clientId, clientSecret);
    const rotated = await other.registry.rotateKey({ alg: 'RS256', leadSeconds: 0 });
    const newToken = await getToken({ app }, clientId, clientSecret);
    expect(decodeJwt(newToken).header.kid).toBe(rotated.kid);
    expect(decodeJwt(oldToken).header.kid).not.toBe(rotated.kid);
    expect((await bearerGet(app, oldToken)).status).toBe(200);
    expect((await bearerGet(app, newToken)).status).toBe(200);
  }));
