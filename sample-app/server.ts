/**
 * Runs the sample app: `npm start` (builds, then runs dist/sample-app/server.js).
 *
 *   PORT             TCP port (default 3000; 0 picks a free one)
 *   HOST             bind address (default 127.0.0.1)
 *   CCGATE_DB        registry file (default sample-app/ccgate.db in the repository)
 *   CCGATE_ISSUER    issuer, used verbatim (default http://localhost:$PORT; no trailing "/")
 *   CCGATE_AUDIENCE  token audience (default: the issuer)
 *   CCGATE_KEY_SECRET  secret the signing keys are encrypted under (default: made once, kept in <db>.key-secret, mode 0600)
 *   HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS  HTTP timeouts (defaults 10000, 30000, 5000)
 *
 * It prints a human banner up to its "Listening on" line; from then on stdout carries the log, JSON lines.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSampleApp, registerApiResource, seedDemo, type SampleApp } from './app';
import { ConfigurationError, redactedDb } from '../lib';
import { sampleKeySecret } from './key-secret';
import { createLogger } from './logging';
import { issuerFor, listeningUrl, localBaseUrl, readServerConfig, serverOptions, startupText, type ServerConfig } from './startup';

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
const fail = (text: string): void => {
  process.stderr.write(`ccgate sample app: ${text}\n`);
  process.exitCode = 1;
};

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function listenError(err: unknown, config: ServerConfig): string {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${config.host}:${config.port}`;
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: the port is already in use. Set PORT to another port (PORT=0 picks a free one).`;
  if (code === 'EACCES') return `cannot listen on ${where}: permission denied. Use a PORT above 1023.`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `cannot listen on ${where}: HOST "${config.host}" is not an address of this machine.`;
  }
  return `cannot listen on ${where}: ${err instanceof Error ? err.message : String(err)}`;
}

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = readServerConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigurationError) return fail(err.message);
    throw err;
  }

  // Listen first, so that with PORT=0 the default issuer names the port actually bound.
  const server = createServer(serverOptions(config.timeouts));
  const logger = createLogger(out);
  let address: AddressInfo;
  try {
    address = await listen(server, config.port, config.host);
  } catch (err) {
    return fail(listenError(err, config));
  }

  let sample: SampleApp | undefined;
  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    stopping = true;
    logger.info({ signal }, `${signal} received: shutting down.`);
    // Stop accepting; idle keep-alive connections close now, busy ones after their response (or 5 s).
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const force = setTimeout(() => server.closeAllConnections(), 5000);
    await closed;
    clearTimeout(force);
    try {
      await sample?.auth.close();
    } catch (err) {
      fail(`error while closing the registry: ${err instanceof Error ? err.message : String(err)}`);
    }
    logger.info('Stopped.');
    // Everything is closed, so the process ends by itself; this only guards against a stray handle.
    setTimeout(() => process.exit(), 2000).unref();
  };
  // `once`: a second Ctrl-C during shutdown takes Node's default action and ends the process at once.
  process.once('SIGINT', (signal) => void stop(signal));
  process.once('SIGTERM', (signal) => void stop(signal));

  const issuer = issuerFor(config, address.port);
  try {
    const keySecret = sampleKeySecret(process.env, config.db);
    if (keySecret.created) out(`Created ${keySecret.file} (mode 0600): the secret the registry's signing keys are encrypted under.`);
    sample = createSampleApp({ db: config.db, issuer, audience: config.audience, keySecret: keySecret.secret, logger });
    server.on('request', sample.app);
    // Opens (and migrates) the registry and makes the signing key now: a bad CCGATE_DB fails here, clearly.
    await sample.auth.ready();
    const seed = await seedDemo(sample.auth);
    await registerApiResource(sample.auth, config.audience ?? issuer);
    if (stopping) return;
    out(
      startupText({
        config,
        issuer,
        audience: config.audience ?? issuer,
        baseUrl: localBaseUrl(config.host, address.port),
        seed,
      }),
    );
    out(`Listening on ${listeningUrl(address.address, address.port)} (Ctrl-C to stop)`);
  } catch (err) {
    if (stopping) return;
    fail(`cannot start with registry ${redactedDb(config.db)}: ${err instanceof Error ? err.message : String(err)}`);
    server.close();
    await sample?.auth.close().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err));
});
