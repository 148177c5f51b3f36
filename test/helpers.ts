import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type Express } from 'express';
import { ccgate, type Ccgate, type CcgateOptions } from '../lib';

export const ISSUER = 'https://issuer.test';

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix = 'ccgate-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestServer {
  app: Express;
  auth: Ccgate;
  dbPath: string;
  close(): Promise<void>;
}

/** An app like the README's: token router at /oauth, guarded routes under /api, real SQLite file. */
export function createTestServer(options: Partial<CcgateOptions> = {}): TestServer {
  const { dir, cleanup } = tempDir();
  const dbPath = join(dir, 'ccgate.db');
  const auth = ccgate({ db: dbPath, issuer: ISSUER, bcryptCost: 4, bcryptWorkers: 1, throttle: false, onServerError: (e) => console.error(e), ...options });
  const app = express();
  app.use('/oauth', auth.tokenRouter());
  app.get('/api/open', (_req, res) => res.json({ ok: true }));
  app.get('/api/reports', auth.requireScope('reports:read'), (req, res) => res.json({ client: req.auth?.clientId, scopes: req.auth?.scopes }));
  app.post('/api/reports', auth.requireScope('reports:write'), (req, res) => res.status(201).json({ client: req.auth?.clientId }));
  app.get('/api/any', auth.requireAnyScope('reports:read', 'reports:write'), (req, res) => res.json({ scopes: req.auth?.scopes }));
  app.get('/api/whoami', auth.authenticate(), (req, res) => res.json({ auth: { clientId: req.auth?.clientId, claims: req.auth?.claims } }));
  return {
    app,
    auth,
    dbPath,
    async close() {
      await auth.close();
      cleanup();
    },
  };
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** Creates a group with `scopes` and a confidential client in it. */
export async function seedClient(auth: Ccgate, scopes = ['reports:read'], group = 'g' + Math.random().toString(36).slice(2, 8)) {
  await auth.registry.createGroup(group, scopes);
  const created = await auth.registry.createClient({ name: 'test client', groups: [group] });
  return { clientId: created.client.clientId, clientSecret: created.clientSecret as string, group };
}
