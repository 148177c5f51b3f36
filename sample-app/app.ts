/**
 * The ccgate sample app: an Express API whose /api/reports routes are guarded by scopes, with the
 * OAuth 2.0 token endpoint mounted at /oauth. server.ts runs it; tests build it with createSampleApp.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import { ccgate, RegistryError, type Ccgate } from '../lib';
import { createLogger, requestLog } from './logging';

export interface SampleAppConfig {
  /** The registry: a SQLite file path (created if missing) or a postgres:// URL. */
  db: string;
  /** `iss` of issued tokens, used verbatim, e.g. http://localhost:3000 (no trailing slash). */
  issuer: string;
  /** `aud` of issued tokens and the audience the guard accepts (default: the issuer). */
  audience?: string;
  /** bcrypt cost of secrets this app creates (default 10; tests use 4). */
  bcryptCost?: number;
  /** bcrypt worker threads (default: one per core). */
  bcryptWorkers?: number;
  /** Where the log's JSON lines go, one per call, without the newline (default: stdout). */
  log?: (line: string) => void;
  /** The logger itself (server.ts passes its own, for its shutdown lines); default one writing to `log`. */
  logger?: Logger;
  /** Secret the signing keys are encrypted under (server.ts passes sample-app/key-secret.ts's); default CCGATE_KEY_SECRET. */
  keySecret?: string;
}

export interface SampleApp {
  app: Express;
  auth: Ccgate;
  config: SampleAppConfig;
  logger: Logger;
}

/** The demo client the first start creates, and the groups it uses. */
export const READER_GROUP = 'reports-reader';
export const WRITER_GROUP = 'reports-writer';
export const READ_SCOPE = 'reports:read';
export const WRITE_SCOPE = 'reports:write';
export const DEMO_CLIENT_NAME = 'demo client';

interface Report {
  id: string;
  title: string;
  value: number;
  createdBy: string | null;
}

export function createSampleApp(config: SampleAppConfig): SampleApp {
  const logger = config.logger ?? createLogger(config.log ?? ((line) => process.stdout.write(`${line}\n`)));
  // Faults as one JSON line each, stack trace included (pino's err serializer).
  const onServerError = (err: unknown): void => logger.error({ err }, 'server fault');
  const auth = ccgate({
    db: config.db,
    issuer: config.issuer,
    audience: config.audience,
    bcryptCost: config.bcryptCost,
    bcryptWorkers: config.bcryptWorkers,
    // The sample serves plain http://localhost, even with NODE_ENV=production. A real deployment keeps
    // ccgate's default (HTTPS required in production) and terminates TLS in front of the app.
    requireHttps: false,
    // Likewise, a private_key_jwt client developed on this machine may serve its jwks_uri over http://localhost.
    allowLoopbackHttpJwksUri: true,
    // RFC 9728: the API tells clients which issuer and scopes it needs (served below, named in every 401).
    protectedResource: { resource: config.audience ?? config.issuer, scopes: [READ_SCOPE, WRITE_SCOPE], resourceName: 'ccgate sample reports API' },
    keySecret: config.keySecret,
    onServerError,
  });
  // Audit events (token.issued, client.auth_failed, ...) into the same log: one line wires ccgate to it.
  auth.events.on('*', (event) => logger.info({ audit: event }, event.type));
  // Node's own metrics (CPU, memory, event loop lag) beside ccgate's, all served at /metrics.
  collectDefaultMetrics({ register: auth.metrics });

  // Demo data, in memory: gone when the process stops.
  const reports: Report[] = [
    { id: 'r-1', title: 'Weekly sign-ups', value: 128, createdBy: null },
    { id: 'r-2', title: 'Monthly revenue (EUR)', value: 48_250, createdBy: null },
  ];

  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(logger));

  app.get('/api/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/api/reports', auth.requireScope(READ_SCOPE), (req, res) => {
    res.json({ client: req.auth?.clientId, scopes: req.auth?.scopes, reports });
  });

  const createReport: RequestHandler = (req, res) => {
    const body: unknown = req.body;
    const title = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).title : undefined;
    if (typeof title !== 'string' || title.trim() === '' || title.length > 200) {
      res.status(400).json({ error: 'invalid_request', error_description: 'Send a JSON body with a "title" of 1 to 200 characters.' });
      return;
    }
    const value = (body as Record<string, unknown>).value;
    const report: Report = {
      id: `r-${reports.length + 1}`,
      title: title.trim(),
      value: typeof value === 'number' && Number.isFinite(value) ? value : 0,
      createdBy: req.auth?.clientId ?? null,
    };
    reports.push(report);
    res.status(201).json(report);
  };
  // The guard runs first: a caller without reports:write never gets its body parsed.
  app.post('/api/reports', auth.requireScope(WRITE_SCOPE), express.json({ limit: '16kb' }), createReport);

  // The issuer: POST /oauth/token (RFC 6749 §4.4) and its other endpoints. `/oauth` is ccgate's default mountPath.
  app.use('/oauth', auth.tokenRouter());
  // RFC 8414 metadata at /.well-known/oauth-authorization-server, and RFC 9728 metadata of the API.
  app.use(auth.metadataRouter());
  app.use(auth.protectedResourceMetadata());
  // Operators: GET /healthz (liveness), GET /readyz (readiness), GET /metrics (Prometheus). In production,
  // serve /metrics where only the scraper reaches it (it names clients): another port, or a proxy rule.
  app.use(auth.healthRouter());
  app.use(auth.metricsRouter());

  app.use((req, res) => {
    res.status(404).json({ error: 'not_found', error_description: `No route for ${req.method} ${req.path}.` });
  });
  // Unreadable JSON bodies answer 400/413 invalid_request; anything else is logged and answers a bare 500.
  app.use(auth.errorHandler);

  return { app, auth, config, logger };
}

export type SeedResult = { created: true; clientId: string; clientSecret: string } | { created: false; clientCount: number };

/**
 * First start: with no client in the registry, makes sure the reader and writer groups exist and
 * creates a demo client in reports-reader. Its secret is returned once and never stored in clear.
 * Later starts change nothing.
 */
export async function seedDemo(auth: Ccgate): Promise<SeedResult> {
  const registry = auth.registry;
  const clients = await registry.listClients();
  if (clients.length > 0) return { created: false, clientCount: clients.length };
  for (const [group, scope] of [
    [READER_GROUP, READ_SCOPE],
    [WRITER_GROUP, WRITE_SCOPE],
  ]) {
    if (await registry.getGroup(group)) await registry.addGroupScopes(group, [scope]);
    else await registry.createGroup(group, [scope]);
  }
  const { client, clientSecret } = await registry.createClient({ name: DEMO_CLIENT_NAME, groups: [READER_GROUP] });
  return { created: true, clientId: client.clientId, clientSecret: clientSecret as string };
}

/**
 * Registers this app's API as a resource (RFC 8707) the first time it starts on a registry: its URI is
 * the audience the guard checks, its scopes those of the routes. A client may then ask for a token
 * with `resource=<uri>`. An existing registration is left as an operator may have changed it.
 */
export async function registerApiResource(auth: Ccgate, uri: string): Promise<boolean> {
  if (await auth.registry.getResource(uri)) return false;
  try {
    await auth.registry.createResource(uri, [READ_SCOPE, WRITE_SCOPE]);
    return true;
  } catch (err) {
    // Another instance registered it meanwhile.
    if (err instanceof RegistryError && err.kind === 'conflict') return false;
    throw err;
  }
}

/** The repository root (the nearest folder above `from` holding package.json), so paths work from dist/ too. */
export function projectRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
}

/** Default registry file: sample-app/ccgate.db in the repository (ignored by git). */
export function defaultDbPath(): string {
  return path.join(projectRoot(), 'sample-app', 'ccgate.db');
}
