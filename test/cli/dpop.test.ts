// A client's policies from the CLI: its DPoP policy (RFC 9449 §5.2: client create --dpop, client set-dpop, client show / list)
// and its secret method (RFC 6749 §2.3.1: client set-auth-method).
import { tempCliDb, type ClientJson, type CreatedJson, type TempCliDb } from '../support/cli';

let t: TempCliDb;
beforeEach(() => {
  t = tempCliDb();
  t.cli(['group', 'create', 'reporting', '--scopes', 'reports:read']);
});
afterEach(() => t.cleanup());

const stored = (id: string) => t.withRegistry((r) => r.getClient(id));
const create = (...args: string[]) => t.json<CreatedJson>(['client', 'create', 'svc', '--groups', 'reporting', ...args]);

describe('client create --dpop', () => {
  test('without it the client is `allowed`; --json prints exactly client_id and client_secret as before', async () => {
    const out = create();
    expect(Object.keys(out)).toEqual(['client_id', 'client_secret']);
    expect((await stored(out.client_id))?.dpop).toBe('allowed');
  });

  test('--dpop required is stored; the text output says so', async () => {
    const r = t.cli(['client', 'create', 'bound', '--dpop', 'required']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Its token requests must carry a DPoP proof \(--dpop required\)\.$/m);
    const id = /^client_id:\s+(\S+)$/m.exec(r.stdout)?.[1] as string;
    expect((await stored(id))?.dpop).toBe('required');
    expect(t.cli(['client', 'create', 'loose']).stdout).not.toMatch(/DPoP/);
  });

  test('also for a private_key_jwt client', async () => {
    const jwks = JSON.stringify({
      keys: [{ kty: 'EC', crv: 'P-256', kid: 'k1', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }],
    });
    const out = t.json<CreatedJson>(['client', 'create', 'keyed', '--auth-method', 'private_key_jwt', '--jwks', '-', '--dpop', 'required'], { input: jwks });
    expect(await stored(out.client_id)).toMatchObject({ authMethod: 'private_key_jwt', dpop: 'required' });
  });

  test('another value is a usage error (exit 2, nothing created)', async () => {
    const r = t.cli(['client', 'create', 'svc', '--dpop', 'sometimes']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--dpop.*sometimes.*allowed, required/s);
    expect(await t.withRegistry(async (reg) => (await reg.listClients()).length)).toBe(0);
  });
});

describe('client set-dpop', () => {
  test('required, then allowed: stored at once; --json prints the client as client show does', async () => {
    const { client_id: id } = create();
    const required = t.json<ClientJson>(['client', 'set-dpop', id, 'required']);
    expect(required).toMatchObject({ client_id: id, dpop: 'required', groups: ['reporting'] });
    expect(required).toEqual(t.json<ClientJson>(['client', 'show', id]));
    expect((await stored(id))?.dpop).toBe('required');
    expect(t.json<ClientJson>(['client', 'set-dpop', id, 'allowed']).dpop).toBe('allowed');
    expect((await stored(id))?.dpop).toBe('allowed');
  });

  test('text mode: one line saying what the client must do now', () => {
    const { client_id: id } = create();
    expect(t.cli(['client', 'set-dpop', id, 'required']).stdout).toBe(
      `Client ${id} must now send a DPoP proof with every token request; tokens it already has are unchanged.\n`,
    );
    expect(t.cli(['client', 'set-dpop', id, 'allowed']).stdout).toBe(`Client ${id} may now get tokens with or without a DPoP proof.\n`);
  });

  test('an unknown client exits 1 naming it; an unknown policy or a missing one is a usage error', async () => {
    const unknown = t.cli(['client', 'set-dpop', 'no-such-client', 'required']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/client "no-such-client" not found/);
    const { client_id: id } = create();
    for (const args of [[id, 'sometimes'], [id]]) {
      const r = t.cli(['client', 'set-dpop', ...args]);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
    }
    expect((await stored(id))?.dpop).toBe('allowed');
  });

  test('--help explains the policy', () => {
    const help = t.cli(['client', 'set-dpop', '--help']).stdout;
    expect(help).toMatch(/RFC 9449/);
    expect(help).toMatch(/invalid_request/);
  });
});

describe('client show and list', () => {
  test('show prints the policy, in text and as "dpop" in JSON; list --json carries it', () => {
    const { client_id: loose } = create();
    const { client_id: bound } = create('--dpop', 'required');
    expect(t.cli(['client', 'show', loose]).stdout).toMatch(/^dpop:\s+allowed$/m);
    expect(t.cli(['client', 'show', bound]).stdout).toMatch(/^dpop:\s+required \(every token request carries a DPoP proof\)$/m);
    expect(t.json<ClientJson>(['client', 'show', bound]).dpop).toBe('required');
    const list = t.json<ClientJson[]>(['client', 'list']);
    expect(Object.fromEntries(list.map((c) => [c.client_id, c.dpop]))).toEqual({ [loose]: 'allowed', [bound]: 'required' });
  });
});

describe('client set-auth-method (RFC 6749 §2.3.1)', () => {
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
});
