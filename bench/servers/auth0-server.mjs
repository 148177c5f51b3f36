// Bench server: the same route behind Auth0's express-oauth2-jwt-bearer (auth() + requiredScopes()),
// validating ccgate's RS256 tokens against the issuer process's JWKS. Plain .mjs on purpose: the
// library's Express Request augmentation (req.auth) conflicts with ccgate's under tsc, so it never
// enters the TypeScript program. Run from the source folder. Prints {"port":N}.
import express from 'express';
import { auth, requiredScopes } from 'express-oauth2-jwt-bearer';

const config = JSON.parse(process.argv[2]);

const app = express();
app.disable('x-powered-by');
app.get('/bare', (_req, res) => {
  res.json({ ok: true });
});
app.get(
  '/guarded',
  auth({ issuer: config.issuer, jwksUri: config.jwksUri, audience: config.audience, tokenSigningAlg: 'RS256' }),
  requiredScopes(config.scope),
  (_req, res) => {
    res.json({ ok: true });
  },
);

app.get('/__stats', (_req, res) => {
  res.json({ ...process.memoryUsage(), cpu: process.cpuUsage() });
});

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
server.keepAliveTimeout = 60_000;
const shutdown = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
