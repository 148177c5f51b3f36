/**
 * Support for the standards tests: every server here is real and listens on 127.0.0.1 port 0, every
 * registry is a real SQLite file in a temp directory.
 *
 *   issuer: app.use(auth.metadataRouter()); app.use('/oauth', auth.tokenRouter()); plus a locally
 *           guarded route, so revocation can be checked at the issuer's own guard.
 *   api:    another Express app on another port guarded by remoteGuard() (or anything else).
 */
import { claimsFor as baseClaimsFor } from '../support';
import { execFile } from 'node:child_process';
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import { ccgate, remoteGuard, SqliteRegistry, type Ccgate, type CcgateOptions, type FetchLike, type Guard, type RemoteGuardOptions } from '../../lib';

/** A fresh temp directory, removed by the returned cleanup. */
function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The audience every test issuer puts in its tokens and every test API expects. */
export const API_AUDIENCE = 'https://api.ccgate.test';

export interface Listening {
  server: http.Server;
  /** http://127.0.0.1:<port> (no trailing slash). */
  origin: string;
  /** Stops listening and drops keep-alive connections, so clients see the server as gone. */
  stop(): Promise<void>;
}

/** Listens on 127.0.0.1, port 0. */
export async function listen(handler?: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | null = null;
  return {
    server,
    origin: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
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

/** startApi(remoteGuard({issuer, audience: API_AUDIENCE, ...options})). */
export function startRemoteApi(issuer: TestIssuer, options: Partial<RemoteGuardOptions> = {}): Promise<TestApi> {
  return startApi(remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE, ...options }));
}

/** A fetch that records every URL it is asked for (and can be switched to fail). */
export function countingFetch(): { fetch: FetchLike; urls: string[]; count(match?: string): number } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (input, init) => {
      urls.push(input);
      return fetch(input, init);
    },
    count: (match) => urls.filter((u) => match === undefined || u.includes(match)).length,
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json(): any;
}

/** One HTTP request with the global fetch; the body is read whole. */
export async function httpRequest(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** GET with a bearer token. */
export function callApi(url: string, token?: string): Promise<Reply> {
  return httpRequest(url, token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } });
}

/** client_secret_basic per RFC 6749 §2.3.1 (form-urlencoded parts). */
export function basicAuth(id: string, secret: string): string {
  const form = (v: string): string => new URLSearchParams([['v', v]]).toString().slice(2);
  return `Basic ${Buffer.from(`${form(id)}:${form(secret)}`).toString('base64')}`;
}

export interface ClientAuth {
  clientId: string;
  clientSecret: string;
  /** 'basic' (default) or 'post'. */
  method?: 'basic' | 'post';
}

/** POSTs a form to an issuer endpoint, authenticated as a client. */
export function postForm(url: string, client: ClientAuth | null, params: Record<string, string>): Promise<Reply> {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (client && (client.method ?? 'basic') === 'basic') headers.Authorization = basicAuth(client.clientId, client.clientSecret);
  if (client && client.method === 'post') {
    body.set('client_id', client.clientId);
    body.set('client_secret', client.clientSecret);
  }
  return httpRequest(url, { method: 'POST', headers, body: body.toString() });
}

export interface SeededClient extends ClientAuth {
  group: string;
}

/** A group holding `scopes` and a confidential client in it. */
export async function seedClient(issuer: TestIssuer, scopes: string[] = ['reports:read'], options: { tokenTtl?: number } = {}): Promise<SeededClient> {
  const group = `g${randomBytes(4).toString('hex')}`;
  await issuer.auth.registry.createGroup(group, scopes);
  const created = await issuer.auth.registry.createClient({ name: 'standards test client', groups: [group], tokenTtl: options.tokenTtl });
  return { clientId: created.client.clientId, clientSecret: created.clientSecret as string, group };
}

/** A token from the issuer's real token endpoint; fails the test on refusal. */
export async function issueToken(issuer: TestIssuer, client: ClientAuth, scope?: string): Promise<string> {
  const res = await postForm(`${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
  return res.json().access_token as string;
}

export function introspect(issuer: TestIssuer, caller: ClientAuth, params: Record<string, string>): Promise<Reply> {
  return postForm(`${issuer.endpoints}/introspect`, caller, params);
}

export function revoke(issuer: TestIssuer, caller: ClientAuth, params: Record<string, string>): Promise<Reply> {
  return postForm(`${issuer.endpoints}/revoke`, caller, params);
}

export function decodeJwt(token: string): { header: Record<string, any>; payload: Record<string, any> } {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), payload: JSON.parse(Buffer.from(p, 'base64url').toString()) };
}

export const kidOf = (token: string): string => decodeJwt(token).header.kid as string;

/** A key pair the issuer has never seen (an attacker's). */
export function foreignKey(alg: 'RS256' | 'ES256' = 'RS256') {
  const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicJwk: pair.publicKey.export({ format: 'jwk' }) as Record<string, string>,
  };
}

/** Signs a compact JWS by hand: every header member is ours to choose (the key decides RS256 / ES256). */
export function signJws(privateKeyPem: string, _alg: 'RS256' | 'ES256', header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = createSign('sha256').update(input).sign({ key: privateKeyPem, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${input}.${signature}`;
}

/** Claims of a plausible ccgate access token from `issuer` for `clientId`, for this suite's API audience. */
export function claimsFor(issuer: string, clientId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return baseClaimsFor(clientId, { iss: issuer, aud: API_AUDIENCE, ...overrides });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` (every 100 ms, at most `attempts` times) until it returns a non-undefined value. */
export async function eventually<T>(probe: () => Promise<T | undefined>, attempts = 100): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error('condition not reached');
}

/** Runs test/standards/interop/<script> with `node`, input as JSON in argv[2]; returns its JSON output. */
export function runInterop<T = any>(script: string, input: unknown): Promise<T> {
  const path = join(__dirname, 'interop', script);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path, JSON.stringify(input)], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${script} printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** A registry on a fresh temp file whose clock the test moves by hand (Unix seconds in clock.t). */
export function clockedRegistry(start = 1_700_000_000) {
  const { dir, cleanup } = tempDir('ccgate-std-reg-');
  const clock = { t: start, advance(seconds: number) { this.t += seconds; } };
  const registry = new SqliteRegistry(join(dir, 'registry.db'), { bcryptCost: 4, now: () => clock.t });
  return {
    registry,
    clock,
    async cleanup() {
      await registry.close();
      cleanup();
    },
  };
}

/** The built CLI (npm run build): `ccgate --db <db> --json key rotate --lead <lead>`; returns the new key. */
export function cliKeyRotate(db: string, lead: string): Promise<{ kid: string; status: string }> {
  const cli = join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first`);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, '--db', db, '--json', 'key', 'rotate', '--lead', lead], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`ccgate key rotate failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout) as { kid: string; status: string });
    });
  });
}
