/**
 * Bench server: an API that knows only the issuer, guarded by ccgate's remoteGuard in JWKS mode
 * (keys fetched from the separately running issuer process). Prints {"port":N}.
 */
import { benchApp, serve } from './serve';
import { remoteGuard } from '../../lib';

interface Config {
  issuer: string;
  audience: string;
  jwksUri: string;
  scope: string;
}

const config = JSON.parse(process.argv[2]) as Config;
const guard = remoteGuard({ issuer: config.issuer, audience: config.audience, jwksUri: config.jwksUri });

const app = benchApp();
app.get('/guarded', guard.requireScope(config.scope), (_req, res) => {
  res.json({ ok: true });
});

serve(app);
