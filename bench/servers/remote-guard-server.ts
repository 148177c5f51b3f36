/**
 * Bench server: an API that knows only the issuer, guarded by ccgate's remoteGuard in JWKS mode
 * (keys fetched from the separately running issuer process). Prints {"port":N}.
 */
import express from 'express';
import { remoteGuard } from '../../lib';

interface Config {
  issuer: string;
  audience: string;
  jwksUri: string;
  scope: string;
}

const config = JSON.parse(process.argv[2]) as Config;
const guard = remoteGuard({ issuer: config.issuer, audience: config.audience, jwksUri: config.jwksUri });

const app = express();
app.disable('x-powered-by');
app.get('/bare', (_req, res) => {
  res.json({ ok: true });
});
app.get('/guarded', guard.requireScope(config.scope), (_req, res) => {
  res.json({ ok: true });
});
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
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
