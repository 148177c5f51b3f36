// openid-client v6: discovery of an OAuth 2.0 (RFC 8414) issuer over http (allowInsecureRequests),
// clientCredentialsGrant with client_secret_basic and client_secret_post, introspection and revocation.
// Input: {issuer, clientId, clientSecret, scope}. Output: JSON.
import * as client from 'openid-client';

const input = JSON.parse(process.argv[2]);
const describe = (err) => ({ name: err?.name, code: err?.code, message: err?.message, error: err?.error });

async function main() {
  const out = {};
  for (const [name, auth] of [
    ['client_secret_basic', client.ClientSecretBasic(input.clientSecret)],
    ['client_secret_post', client.ClientSecretPost(input.clientSecret)],
  ]) {
    const config = await client.discovery(new URL(input.issuer), input.clientId, undefined, auth, {
      execute: [client.allowInsecureRequests],
      algorithm: 'oauth2',
    });
    const tokens = await client.clientCredentialsGrant(config, input.scope ? { scope: input.scope } : {});
    const introspection = await client.tokenIntrospection(config, tokens.access_token);
    await client.tokenRevocation(config, tokens.access_token);
    const afterRevocation = await client.tokenIntrospection(config, tokens.access_token);
    out[name] = {
      serverMetadata: config.serverMetadata(),
      tokens: { access_token: tokens.access_token, token_type: tokens.token_type, expires_in: tokens.expires_in, scope: tokens.scope },
      introspection,
      afterRevocation,
    };
  }
  // Discovery from the metadata URL itself (no algorithm hint needed).
  const direct = await client.discovery(new URL(`${input.issuer.replace(/\/$/, '')}/.well-known/oauth-authorization-server`), input.clientId, input.clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const directTokens = await client.clientCredentialsGrant(direct);
  out.directMetadataUrl = { issuer: direct.serverMetadata().issuer, scope: directTokens.scope };
  // Without algorithm: 'oauth2', openid-client v6 looks only for OpenID Connect metadata.
  try {
    await client.discovery(new URL(input.issuer), input.clientId, input.clientSecret, undefined, { execute: [client.allowInsecureRequests] });
    out.oidcDiscovery = { unexpectedSuccess: true };
  } catch (err) {
    out.oidcDiscovery = describe(err);
  }
  return out;
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (err) => process.stdout.write(JSON.stringify({ failed: describe(err) })),
);
