/**
 * Test servers. In process: createTestServer, an app like the README's (supertest drives it).
 * Listening on 127.0.0.1 port 0 for the standards tests:
 *   issuer: app.use(auth.metadataRouter()); app.use('/oauth', auth.tokenRouter()); plus a locally
 *           guarded route, so revocation can be checked at the issuer's own guard.
 *   api:    another Express app on another port guarded by remoteGuard() (or anything else).
 * Every registry is a real SQLite file in a temp directory.
 */
import { join } from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import { ccgate, remoteGuard, type Ccgate, type CcgateOptions, type Guard, type RemoteGuardOptions } from '../../lib';
import { API_AUDIENCE, ISSUER } from './constants';
import { listen, type Listening } from './http';
import { tempDir } from './temp';

/**
 * The ccgate options of in-process test servers: the test issuer, cheap bcrypt, no throttle, and
 * keys stored as plain PEM without the warning (tests read them; key encryption has tests of its own).
 */
export const TEST_OPTIONS = { issuer: ISSUER, bcryptCost: 4, bcryptWorkers: 1, throttle: false as const, allowUnencryptedKeys: true };

/**
 * The README's app on `auth`: token router at /oauth; /api/open, /api/reports (GET reports:read,
 * POST reports:write), /api/any (either), /api/whoami (any valid token).
 */
export function testApp(auth: Ccgate): Express {
  const app = express();
  app.use('/oauth', auth.tokenRouter());
  app.get('/api/open', (_req, res) => res.json({ ok: true }));
  app.get('/api/reports', auth.requireScope('reports:read'), (req, res) => res.json({ client: req.auth?.clientId, scopes: req.auth?.scopes }));
  app.post('/api/reports', auth.requireScope('reports:write'), (req, res) => res.status(201).json({ client: req.auth?.clientId }));
  app.get('/api/any', auth.requireAnyScope('reports:read', 'reports:write'), (req, res) => res.json({ scopes: req.auth?.scopes }));
  app.get('/api/whoami', auth.authenticate(), (req, res) => res.json({ auth: { clientId: req.auth?.clientId, claims: req.auth?.claims } }));
  return app;
}

export interface TestServer {
  app: Express;
  auth: Ccgate;
  dbPath: string;
  close(): Promise<void>;
}

/** testApp on a fresh registry file, TEST_OPTIONS, faults printed (`options` override any of it). */
export function createTestServer(options: Partial<CcgateOptions> = {}): TestServer {
  const { dir, cleanup } = tempDir();
  const dbPath = join(dir, 'ccgate.db');
  const auth = ccgate({ db: dbPath, ...TEST_OPTIONS, onServerError: (e) => console.error(e), ...options });
  return {
    app: testApp(auth),
    auth,
    dbPath,
    async close() {
      await auth.close();
      cleanup();
    },
  };
}

export interface IssuerOptions extends Partial<Omit<CcgateOptions, 'issuer' | 'db'>> {
  /** Path after the origin in the issuer identifier (e.g. "/tenant-a"); default none. */
  issuerPath?: string;
  /** Append "/" to the issuer identifier. */
  trailingSlash?: boolean;
  /** Where the token router is mounted (default "/oauth"; with issuerPath it is mounted under it). */
  mountAt?: string;
  /** Use this registry instead of a fresh file (ccgate will not close it). */
  db?: CcgateOptions['db'];
}

export interface TestIssuer extends Listening {
  /** The issuer identifier, exactly as in `iss` and the metadata. */
  issuer: string;
  auth: Ccgate;
  app: Express;
  dbPath: string;
  /** Faults passed to onServerError (tests assert there are none). */
  serverErrors: unknown[];
  /** Absolute URL of the token router, e.g. http://127.0.0.1:1234/oauth. */
  endpoints: string;
  close(): Promise<void>;
}

/** A real issuer: metadata at the root, token router at /oauth, a locally guarded /local/reports. */
export async function startIssuer(options: IssuerOptions = {}): Promise<TestIssuer> {
  const { issuerPath = '', trailingSlash = false, mountAt, db, ...rest } = options;
  const { dir, cleanup } = tempDir('ccgate-std-');
  const dbPath = join(dir, 'ccgate.db');
  const listening = await listen();
  const issuer = `${listening.origin}${issuerPath}${trailingSlash ? '/' : ''}`;
  const serverErrors: unknown[] = [];
  const auth = ccgate({
    db: db ?? dbPath,
    issuer,
    audience: API_AUDIENCE,
    bcryptCost: 4,
    bcryptWorkers: 1,
    allowUnencryptedKeys: true,
    onServerError: (e) => serverErrors.push(e),
    ...rest,
  });
  const mount = mountAt ?? `${issuerPath}${rest.mountPath ?? '/oauth'}`;
  const app = express();
  app.use(auth.metadataRouter());
  app.use(mount, auth.tokenRouter());
  app.get('/local/reports', auth.requireScope('reports:read'), (req, res) => res.json({ client: req.auth?.clientId }));
  listening.server.on('request', app);
  return {
    ...listening,
    issuer,
    auth,
    app,
    dbPath,
    serverErrors,
    endpoints: `${listening.origin}${mount}`,
    async close() {
      await listening.stop();
      await auth.close();
      cleanup();
    },
  };
}

export interface TestApi extends Listening {
  guard: Guard;
}

/** An API service on its own port, guarded by `guard`: /reports (reports:read), /any, /whoami. */
export async function startApi(guard: Guard): Promise<TestApi> {
  const app = express();
  const show: RequestHandler = (req, res) => res.json({ client: req.auth?.clientId, scopes: req.auth?.scopes });
  app.get('/reports', guard.requireScope('reports:read'), show);
  app.get('/any', guard.requireAnyScope('reports:read', 'reports:write'), show);
  app.get('/whoami', guard.authenticate(), show);
  const listening = await listen(app);
  return { ...listening, guard };
}

/** Omit over each member of a union (remoteGuard's options are one type per mode). */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** startApi(remoteGuard({issuer, audience: API_AUDIENCE, ...options})). */
export function startRemoteApi(issuer: TestIssuer, options: OmitEach<RemoteGuardOptions, 'issuer' | 'audience'> = {}): Promise<TestApi> {
  return startApi(remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE, ...options }));
}
