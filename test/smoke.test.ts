import { NO_TOKEN_CHALLENGE } from './support/constants';
import request from 'supertest';
import { bearerGet, tokenRequest } from './support/oauth';
import { seedClient } from './support/clients';
import { createTestServer, type TestServer } from './support/servers';

let server: TestServer;
beforeAll(() => {
  server = createTestServer();
});
afterAll(() => server.close());

test('end to end: token, call, 401, 403', async () => {
  const { clientId, clientSecret } = await seedClient(server.auth, ['reports:read']);
  const tokenRes = await tokenRequest(server.app, clientId, clientSecret);
  expect(tokenRes.status).toBe(200);
  expect(tokenRes.body.token_type).toBe('Bearer');
  const token = tokenRes.body.access_token as string;
  const ok = await bearerGet(server.app, token);
  expect(ok.status).toBe(200);
  expect(ok.body.client).toBe(clientId);
  const none = await request(server.app).get('/api/reports');
  expect(none.status).toBe(401);
  expect(none.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
  const forbidden = await request(server.app).post('/api/reports').set('Authorization', `Bearer ${token}`);
  expect(forbidden.status).toBe(403);
  expect(forbidden.body.error).toBe('insufficient_scope');
});
