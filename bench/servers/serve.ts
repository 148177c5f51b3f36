/**
 * What every bench server does the same way: the /bare baseline and /__stats routes, listening on a
 * free loopback port, announcing it as {"port":N} on stdout, and a clean stop on SIGTERM/SIGINT.
 */
import express, { type Express } from 'express';
import { holdOpen } from './hold-open';

/** An Express app with the bare baseline route and the stats route the orchestrator reads. */
export function benchApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/bare', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/__stats', (_req, res) => {
    res.json({ ...process.memoryUsage(), cpu: process.cpuUsage() });
  });
  return app;
}

/** Listens, prints the port, and on a signal closes connections, runs `close`, and exits (0, or 1 if `close` failed). */
export function serve(app: Express, close: () => Promise<void> = () => Promise.resolve()): void {
  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address && typeof address === 'object') process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  });
  server.keepAliveTimeout = 60_000;
  const shutdown = (): void => {
    server.close();
    server.closeAllConnections();
    // Exit code 1 when closing failed: the orchestrator can tell a clean stop from a messy one.
    holdOpen(close()).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('close failed', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
