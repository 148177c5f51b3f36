/** Tokens outlive the process that issued them: keys and clients live in the registry file. */
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { ccgate, type Ccgate } from '../../lib';
import { tempDir } from '../helpers';
import { decodeJwt, getToken, ISSUER } from '../support';

function appFor(auth: Ccgate) {
  const app = express();
  app.use('/oauth', auth.tokenRouter());
  app.get('/api/reports', auth.requireScope('reports:read'), (req, res) => res.json({ client: req.auth?.clientId }));
  return app;
}

const options = { issuer: ISSUER, bcryptCost: 4, bcryptWorkers: 1, throttle: false as const };

test('RFC 9068 §4: a restart (close, new ccgate on the same file) keeps issued tokens valid and keeps signing with the same key', async () => {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'ccgate.db');
  let first: Ccgate | undefined;
  let second: Ccgate | undefined;
  try {
    first = ccgate({ db, ...options });
    await first.registry.createGroup('g', ['reports:read']);
    const { client, clientSecret } = await first.registry.createClient({ name: 'c', groups: ['g'] });
    const app1 = appFor(first);
    const token = await getToken({ app: app1 }, client.clientId, clientSecret as string);
    expect((await request(app1).get('/api/reports').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    await first.close();
    first = undefined;

    second = ccgate({ db, ...options });
    const app2 = appFor(second);
    const res = await request(app2).get('/api/reports').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body.client).toBe(client.clientId);

    // The same client secret still works, and the new token is signed by the same (persisted) key.
    const again = await getToken({ app: app2 }, client.clientId, clientSecret as string);
    expect(decodeJwt(again).header.kid).toBe(decodeJwt(token).header.kid);
    expect((await second.registry.listKeys())).toHaveLength(1);
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
    auth = ccgate({ db, ...options });
    await auth.registry.createGroup('g', ['reports:read']);
    const { client, clientSecret } = await auth.registry.createClient({ name: 'c', groups: ['g'] });
    const token = await getToken({ app: appFor(auth) }, client.clientId, clientSecret as string);
    const { jti, exp } = decodeJwt(token).payload;
    await auth.registry.revokeToken({ jti, clientId: client.clientId, expiresAt: exp });
    await auth.close();

    auth = ccgate({ db, ...options });
    const res = await request(appFor(auth)).get('/api/reports').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
  } finally {
    await auth?.close();
    cleanup();
  }
});

interface TwoInstances {
  /** The serving instance's app, and a seeded client's credentials. */
  app: ReturnType<typeof appFor>;
  clientId: string;
  clientSecret: string;
  /** A second instance on the same file, as the CLI is. */
  other: Ccgate;
}

/** A server and a second instance on one registry file, with a client in a reports:read group. */
async function withTwoInstances(body: (t: TwoInstances) => Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'ccgate.db');
  const server = ccgate({ db, ...options });
  const other = ccgate({ db, ...options });
  try {
    await server.registry.createGroup('g', ['reports:read']);
    const { client, clientSecret } = await server.registry.createClient({ name: 'c', groups: ['g'] });
    await body({ app: appFor(server), clientId: client.clientId, clientSecret: clientSecret as string, other });
  } finally {
    await other.close();
    await server.close();
    cleanup();
  }
}

const callReports = (app: TwoInstances['app'], token: string) => request(app).get('/api/reports').set('Authorization', `Bearer ${token}`);

test('a second instance on the same file (CLI next to the server) sees a client disabled by the other at once', () =>
  withTwoInstances(async ({ app, clientId, clientSecret, other }) => {
    const token = await getToken({ app }, clientId, clientSecret);
    expect((await callReports(app, token)).status).toBe(200);
    await other.registry.setClientEnabled(clientId, false);
    expect((await callReports(app, token)).status).toBe(401);
  }));

test('a key rotated by another process is picked up: new tokens carry the new kid, old tokens stay valid', () =>
  withTwoInstances(async ({ app, clientId, clientSecret, other }) => {
    const oldToken = await getToken({ app }, clientId, clientSecret);
    const rotated = await other.registry.rotateKey({ alg: 'RS256', leadSeconds: 0 });
    const newToken = await getToken({ app }, clientId, clientSecret);
    expect(decodeJwt(newToken).header.kid).toBe(rotated.kid);
    expect(decodeJwt(oldToken).header.kid).not.toBe(rotated.kid);
    expect((await callReports(app, oldToken)).status).toBe(200);
    expect((await callReports(app, newToken)).status).toBe(200);
  }));
