/**
 * Bench server: a ccgate issuer and local guard in one Express app, on a registry file the
 * orchestrator seeded. argv[2] is a JSON config; prints {"port":N} once listening on 127.0.0.1.
 *
 *   GET  /bare          the small JSON route, no guard
 *   GET  /guarded       the same route behind auth.requireScope('reports:read')
 *   POST /oauth/token   ccgate's token endpoint (and /oauth/jwks for remote validators)
 *   GET  /__stats       process.memoryUsage() and process.cpuUsage() (memory scenario, CPU per request)
 */
import express from 'express';
import { ccgate, type SigningAlgorithm } from '../../lib';

interface Config {
  db: string;
  issuer: string;
  audience: string;
  scope: string;
  algorithm?: SigningAlgorithm;
  bcryptWorkers?: number;
  /** false: no failed-authentication throttle (default: ccgate's default throttle). */
  throttle?: boolean;
}

const config = JSON.parse(process.argv[2]) as Config;
const auth = ccgate({
  db: config.db,
  issuer: config.issuer,
  audience: config.audience,
  algorithm: config.algorithm,
  bcryptWorkers: config.bcryptWorkers,
  ...(config.throttle === false ? { throttle: false as const } : {}),
  onServerError: (err) => console.error('server fault', err),
});

const app = express();
app.disable('x-powered-by');
app.get('/bare', (_req, res) => {
  res.json({ ok: true });
});
app.get('/guarded', auth.requireScope(config.scope), (_req, res) => {
  res.json({ ok: true });
});
app.use('/oauth', auth.tokenRouter());
app.use(auth.metadataRouter());
app.get('/__stats', (_req, res) => {
  res.json({ ...process.memoryUsage(), cpu: process.cpuUsage() });
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
server.keepAliveTimeout = 60_000;

const shutdown = (): void => {
  server.close();
  server.closeAllConnections();
  void auth.close().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
