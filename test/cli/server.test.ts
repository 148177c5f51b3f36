// The CLI and a running server share one registry file: changes made by the CLI apply at once.
import { bearerGet, tokenRequest } from '../support/oauth';
import { createTestServer, type TestServer } from '../support/servers';
import { runCli, type CreatedJson } from '../support/cli';

let server: TestServer;
beforeAll(() => {
  server = createTestServer();
});
afterAll(() => server.close());

const ccgate = (...args: string[]) => runCli(args, { db: server.dbPath });
const token = (id: string, secret: string) => tokenRequest(server.app, id, secret);

test('a client made by the CLI gets tokens; revoking the JWT and disabling the client take effect', async () => {
  expect(ccgate('group', 'create', 'reporting', '--scopes', 'reports:read').status).toBe(0);
  const created = JSON.parse(ccgate('--json', 'client', 'create', 'svc', '--groups', 'reporting').stdout) as CreatedJson;
  const secret = created.client_secret as string;

  const first = await token(created.client_id, secret);
  expect(first.status).toBe(200);
  const jwt = first.body.access_token as string;
  expect((await bearerGet(server.app, jwt)).status).toBe(200);

  const revoked = ccgate('--json', 'token', 'revoke', jwt);
  expect(revoked.status).toBe(0);
  expect(JSON.parse(revoked.stdout)).toMatchObject({ client_id: created.client_id });
  expect((await bearerGet(server.app, jwt)).status).toBe(401);

  const second = await token(created.client_id, secret);
  expect(second.status).toBe(200);
  expect(ccgate('client', 'disable', created.client_id).status).toBe(0);
  expect((await bearerGet(server.app, second.body.access_token as string)).status).toBe(401);
  expect((await token(created.client_id, secret)).status).not.toBe(200);
});

test('after rotate-secret --overlap both secrets get tokens', async () => {
  ccgate('group', 'create', 'rot', '--scopes', 'reports:read');
  const created = JSON.parse(ccgate('--json', 'client', 'create', 'rotating', '--groups', 'rot').stdout) as CreatedJson;
  const rotated = JSON.parse(ccgate('--json', 'client', 'rotate-secret', created.client_id, '--overlap', '1h').stdout) as CreatedJson;
  expect((await token(created.client_id, created.client_secret as string)).status).toBe(200);
  expect((await token(created.client_id, rotated.client_secret as string)).status).toBe(200);
  ccgate('client', 'rotate-secret', created.client_id);
  expect((await token(created.client_id, created.client_secret as string)).status).toBe(401);
});
