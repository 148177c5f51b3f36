/** Faults that are not the caller's: a bare JSON 500 server_error, never a stack trace or HTML. */
import express, { type ErrorRequestHandler } from 'express';
import { bearerGet, getToken, tokenRequest } from '../support/oauth';
import { seedClient } from '../support/clients';
import { createTestServer } from '../support/servers';

test('RFC 6749 §5.2: an unreadable registry at the token endpoint is a JSON 500 server_error, reported to onServerError', async () => {
  const faults: unknown[] = [];
  const server = createTestServer({ onServerError: (e) => faults.push(e) });
  try {
    const c = await seedClient(server.auth, ['reports:read']);
    await server.auth.ready(); // the signing key made at startup is done: its making is not the fault counted below
    await server.auth.registry.close();
    const res = await tokenRequest(server.app, c.clientId, c.clientSecret);
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: 'server_error', error_description: expect.any(String) });
    expect(JSON.stringify(res.body)).not.toMatch(/database|sqlite|at .*\.ts/i);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(faults).toHaveLength(1);
  } finally {
    await server.close();
  }
});

test('RFC 6750 §3: an unreadable registry in the guard is a JSON 500, not a 401', async () => {
  const server = createTestServer();
  try {
    const c = await seedClient(server.auth, ['reports:read']);
    const token = await getToken(server, c.clientId, c.clientSecret);
    await server.auth.registry.close();
    const res = await bearerGet(server.app, token);
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.error).toBe('server_error');
    expect(res.headers['www-authenticate']).toBeUndefined();
  } finally {
    await server.close();
  }
});

test("RFC 6750 §3: with guardErrors 'next' a registry fault reaches the app's error handler as is", async () => {
  const server = createTestServer({ guardErrors: 'next' });
  try {
    const c = await seedClient(server.auth, ['reports:read']);
    const token = await getToken(server, c.clientId, c.clientSecret);
    const app = express();
    const seen: unknown[] = [];
    app.get('/r', server.auth.requireScope('reports:read'), (_req, res) => res.json({}));
    app.use(((err, _req, _res, next) => {
      seen.push(err);
      next(err);
    }) as ErrorRequestHandler);
    app.use(server.auth.errorHandler);
    await server.auth.registry.close();
    const res = await bearerGet(app, token, '/r');
    expect(seen).toHaveLength(1);
    expect((seen[0] as Error).message).toMatch(/not open|closed/); // the registry's own error, not an OAuthError
    expect(res.status).toBe(500);
    expect(res.body.error).toBe('server_error');
  } finally {
    await server.close();
  }
});
