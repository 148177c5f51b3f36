// Bench server: oidc-provider v9 (ESM-only, hence .mjs, run from the source folder) configured as a
// client-credentials issuer of RS256 JWT access tokens, the reference for ccgate's token endpoint.
//   features.clientCredentials: enabled
//   features.resourceIndicators: defaultResource -> the bench API; getResourceServerInfo ->
//     { scope, audience, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
//   clients: client_secret_basic, grant_types ['client_credentials'], response_types [], redirect_uris []
//   jwks: one RSA-2048 key generated with node:crypto at start.
// Token endpoint: POST /token. Served on a plain node:http server (oidc-provider's own callback).
// argv[2]: {"clients":[{"id","secret"}],"audience","scope"}. Prints {"port":N}.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);

let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = http.createServer((req, res) => {
  if (req.url === '/__stats') {
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ ...process.memoryUsage(), cpu: process.cpuUsage() }));
  }
  handler(req, res);
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'bench-rs256' };
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: config.clients.map((c) => ({
      client_id: c.id,
      client_secret: c.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: config.scope,
    })),
    jwks: { keys: [jwk] },
    scopes: [config.scope],
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => config.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: config.scope,
          audience: config.audience,
          accessTokenTTL: 900,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
  handler = provider.callback();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

const shutdown = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
