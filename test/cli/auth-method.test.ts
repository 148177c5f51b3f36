// A secret client's method (RFC 6749 §2.3.1) from the CLI: client set-auth-method.
import { tempCliDb, type CreatedJson, type TempCliDb } from '../support/cli';

let t: TempCliDb;
beforeEach(() => {
  t = tempCliDb();
  t.cli(['group', 'create', 'reporting', '--scopes', 'reports:read']);
});
afterEach(() => t.cleanup());

const stored = (id: string) => t.withRegistry((r) => r.getClient(id));

test('a client_secret_basic client becomes client_secret_post and back; the text says it may use only that one', async () => {
  const { client_id: id } = t.json<CreatedJson>(['client', 'create', 'svc', '--groups', 'reporting']);
  const r = t.cli(['client', 'set-auth-method', id, 'client_secret_post']);
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(`Client ${id} now authenticates with client_secret_post only.\n`);
  expect((await stored(id))?.authMethod).toBe('client_secret_post');
  const json = t.json<{ auth_method: string }>(['client', 'set-auth-method', id, 'client_secret_basic']);
  expect(json.auth_method).toBe('client_secret_basic');
});

test('private_key_jwt is not a method to switch to, and a private_key_jwt client cannot switch (exit 1 / 2)', async () => {
  const { client_id: id } = t.json<CreatedJson>(['client', 'create', 'svc']);
  expect(t.cli(['client', 'set-auth-method', id, 'private_key_jwt']).status).toBe(2);
  const jwks = JSON.stringify({
    keys: [{ kty: 'EC', crv: 'P-256', kid: 'k1', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }],
  });
  const keyed = t.json<CreatedJson>(['client', 'create', 'keyed', '--auth-method', 'private_key_jwt', '--jwks', '-'], { input: jwks });
  const refused = t.cli(['client', 'set-auth-method', keyed.client_id, 'client_secret_post']);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toMatch(/create a new client/);
  expect((await stored(keyed.client_id))?.authMethod).toBe('private_key_jwt');
  expect(t.cli(['client', 'set-auth-method', 'nobody', 'client_secret_post']).status).toBe(1);
});
