/** What server.ts reads from the environment, and what it prints. Pure functions, so tests can call them. */
import type { ServerOptions } from 'node:http';
import path from 'node:path';
import { ConfigurationError, isPostgresUrl, redactedDb } from '../lib';
import { defaultDbPath, READER_GROUP, WRITER_GROUP, type SeedResult } from './app';

export interface ServerConfig {
  /** TCP port; 0 lets the system pick a free one. */
  port: number;
  /** Bind address. */
  host: string;
  /** The registry: an absolute SQLite file path, or a postgres:// URL. */
  db: string;
  /** CCGATE_ISSUER, or undefined for http://localhost:<port>. */
  issuer?: string;
  /** CCGATE_AUDIENCE, or undefined for the issuer. */
  audience?: string;
  /** How long a client may take to send a request: HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS. */
  timeouts: HttpTimeouts;
}

/**
 * Node's HTTP server timeouts. Node's own defaults let one request take 300 s (a slow-drip client
 * holds its connection that long); these answer 408 and close the connection far sooner.
 */
export interface HttpTimeouts {
  /** Until the request's headers are complete (server.headersTimeout). */
  headersMs: number;
  /** Until the whole request, body included, has arrived (server.requestTimeout). */
  requestMs: number;
  /** An idle keep-alive connection is closed after this (server.keepAliveTimeout). */
  keepAliveMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 };

export function parseMilliseconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = /^\d{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(ms >= 1 && ms <= 3_600_000)) throw new ConfigurationError(name, `Invalid ${name} "${value}": use a whole number of milliseconds from 1 to 3600000.`);
  return ms;
}

function readTimeouts(env: Env): HttpTimeouts {
  const timeouts = {
    headersMs: parseMilliseconds('HEADERS_TIMEOUT_MS', setting(env, 'HEADERS_TIMEOUT_MS'), DEFAULT_TIMEOUTS.headersMs),
    requestMs: parseMilliseconds('REQUEST_TIMEOUT_MS', setting(env, 'REQUEST_TIMEOUT_MS'), DEFAULT_TIMEOUTS.requestMs),
    keepAliveMs: parseMilliseconds('KEEP_ALIVE_TIMEOUT_MS', setting(env, 'KEEP_ALIVE_TIMEOUT_MS'), DEFAULT_TIMEOUTS.keepAliveMs),
  };
  // Node refuses a headers timeout longer than the whole request's.
  if (timeouts.headersMs > timeouts.requestMs) {
    throw new ConfigurationError(
      'HEADERS_TIMEOUT_MS',
      `HEADERS_TIMEOUT_MS (${timeouts.headersMs}) must not exceed REQUEST_TIMEOUT_MS (${timeouts.requestMs}).`,
    );
  }
  return timeouts;
}

/**
 * The options of createServer() for these timeouts. Node looks for expired requests only every
 * connectionsCheckingInterval (30 s by default): once a second, a late request is cut off on time.
 */
export function serverOptions(timeouts: HttpTimeouts): ServerOptions {
  return {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionsCheckingInterval: Math.min(1000, timeouts.headersMs),
  };
}

type Env = Record<string, string | undefined>;

/** An unset or empty variable is undefined. */
function setting(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function parsePort(value: string | undefined): number {
  if (value === undefined) return 3000;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new ConfigurationError('PORT', `Invalid PORT "${value}": use a whole number from 1 to 65535 (or 0 for any free port).`);
  }
  return port;
}

/** The issuer is the `iss` of every token, compared exactly: refuse what would surprise later. */
export function checkIssuer(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigurationError('CCGATE_ISSUER', `Invalid CCGATE_ISSUER "${issuer}": use an absolute URL such as http://localhost:3000.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigurationError('CCGATE_ISSUER', `Invalid CCGATE_ISSUER "${issuer}": it must start with https:// (or http:// for local development).`);
  }
  if (url.search || url.hash || issuer.includes('?') || issuer.includes('#')) {
    throw new ConfigurationError('CCGATE_ISSUER', `Invalid CCGATE_ISSUER "${issuer}": an issuer has no query or fragment (RFC 8414 §2).`);
  }
  if (issuer.endsWith('/')) {
    throw new ConfigurationError(
      'CCGATE_ISSUER',
      `Invalid CCGATE_ISSUER "${issuer}": remove the trailing "/". The issuer is used verbatim as the tokens' "iss", ` +
        `and "${issuer}" and "${issuer.replace(/\/+$/, '')}" are different issuers; use CCGATE_ISSUER=${issuer.replace(/\/+$/, '')}`,
    );
  }
  return issuer;
}

export function readServerConfig(env: Env = process.env): ServerConfig {
  const port = parsePort(setting(env, 'PORT'));
  const host = setting(env, 'HOST') ?? '127.0.0.1';
  const db = setting(env, 'CCGATE_DB');
  const issuer = setting(env, 'CCGATE_ISSUER');
  return {
    port,
    host,
    db: db === undefined ? defaultDbPath() : isPostgresUrl(db) ? db : path.resolve(db),
    issuer: issuer === undefined ? undefined : checkIssuer(issuer),
    audience: setting(env, 'CCGATE_AUDIENCE'),
    timeouts: readTimeouts(env),
  };
}

/** The issuer when CCGATE_ISSUER is unset: http://localhost:<the port actually bound>. */
export function issuerFor(config: ServerConfig, boundPort: number): string {
  return config.issuer ?? `http://localhost:${boundPort}`;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::']);

/** A URL to reach the server from this machine (for the printed curl commands). */
export function localBaseUrl(host: string, port: number): string {
  if (LOCAL_HOSTS.has(host)) return `http://localhost:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The address the server is bound to, as a URL. */
export function listeningUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_/.,:@%+=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface StartupInfo {
  config: ServerConfig;
  issuer: string;
  audience: string;
  /** Where this machine reaches the server, e.g. http://localhost:3000. */
  baseUrl: string;
  seed: SeedResult;
}

/** The CLI command line prefix for this registry file. */
function cli(db: string): string {
  // A URL's password is not printed: with PostgreSQL, pass the URL you set in CCGATE_DB.
  return `npx ccgate --db ${shellQuote(redactedDb(db))}`;
}

/** Everything server.ts prints before the "Listening on" line. */
export function startupText(info: StartupInfo): string {
  const { config, seed, baseUrl } = info;
  const lines = [
    'ccgate sample app',
    `  registry  ${redactedDb(config.db)}`,
    `  issuer    ${info.issuer}`,
    ...(info.audience !== info.issuer ? [`  audience  ${info.audience}`] : []),
    '',
  ];
  if (!seed.created) {
    lines.push(
      `The registry already has ${seed.clientCount} client${seed.clientCount === 1 ? '' : 's'}, so no demo client was created.`,
      'List them with the CLI (from the repository folder):',
      '',
      `  ${cli(config.db)} client list`,
      '',
      'A secret is shown only when it is created. To issue a new one for a client:',
      '',
      `  ${cli(config.db)} client rotate-secret <client_id>`,
      '',
      isPostgresUrl(config.db)
        ? 'To start over with a fresh demo client, point CCGATE_DB at an empty database or schema (?schema=...).'
        : `To start over with a fresh demo client, stop the server and delete ${config.db} (and its -wal/-shm files).`,
      '',
    );
    return lines.join('\n');
  }
  const token = `${baseUrl}/oauth/token`;
  const reports = `${baseUrl}/api/reports`;
  lines.push(
    'The registry was empty, so this first start created:',
    `  group   ${READER_GROUP}  (scope reports:read)`,
    `  group   ${WRITER_GROUP}  (scope reports:write)`,
    `  client  "demo client" in ${READER_GROUP}`,
    '',
    `  client_id:     ${seed.clientId}`,
    `  client_secret: ${seed.clientSecret}`,
    '',
    'The secret is shown only this once (the registry keeps a bcrypt hash). Copy it now.',
    '',
    'Try it: paste these into another shell.',
    '',
    `  ID='${seed.clientId}'`,
    `  SECRET='${seed.clientSecret}'`,
    '',
    '  # 1. Get an access token (HTTP Basic client authentication)',
    `  curl -s -u "$ID:$SECRET" -d grant_type=client_credentials ${token}`,
    '',
    '  # 2. Keep a token in $TOKEN and call the API with it: 200',
    `  TOKEN=$(curl -s -u "$ID:$SECRET" -d grant_type=client_credentials ${token} | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).access_token')`,
    `  curl -s -H "Authorization: Bearer $TOKEN" ${reports}`,
    '',
    '  # 3. Without a token: 401 and a WWW-Authenticate challenge',
    `  curl -si ${reports}`,
    '',
    '  # 4. Writing needs reports:write, which this client lacks: 403 insufficient_scope',
    `  curl -si -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"title":"Q3 churn"}' ${reports}`,
    '',
    `  # 5. Add the client to ${WRITER_GROUP} with the CLI (from the repository folder),`,
    '  #    then get a new token as in step 2 and repeat step 4: 201',
    `  ${cli(config.db)} client add-group ${seed.clientId} ${WRITER_GROUP}`,
    '',
    '  # 6. A token restricted to this API (RFC 8707 resource indicator): its "aud" is the resource',
    `  curl -s -u "$ID:$SECRET" -d grant_type=client_credentials --data-urlencode resource=${shellQuote(info.audience)} ${token}`,
    '',
  );
  return lines.join('\n');
}
