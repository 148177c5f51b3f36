// Client side of the oauth4webapi interop test: RFC 8414 discovery, client credentials with
// client_secret_basic and client_secret_post, RFC 7662 introspection, RFC 7009 revocation, each
// response through oauth4webapi's strict process*Response. Input: JSON in argv[2]. Output: JSON.
import * as oauth from 'oauth4webapi';

const input = JSON.parse(process.argv[2]);
const insecure = { [oauth.allowInsecureRequests]: true }; // the test issuer is http://127.0.0.1

const describe = (err) => ({
  name: err?.name,
  code: err?.code,
  message: err?.message,
  error: err?.error,
  status: err?.status,
  challenges: Array.isArray(err?.cause) ? err.cause : undefined,
});

async function main() {
  const issuer = new URL(input.issuer);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  const client = { client_id: input.clientId };
  const out = { metadata: as, grants: {} };

  for (const [name, auth] of [
    ['client_secret_basic', oauth.ClientSecretBasic(input.clientSecret)],
    ['client_secret_post', oauth.ClientSecretPost(input.clientSecret)],
  ]) {
    const params = new URLSearchParams(input.scope ? { scope: input.scope } : {});
    const response = await oauth.clientCredentialsGrantRequest(as, client, auth, params, insecure);
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    const introspection = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
    );
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, tokens.access_token, insecure));
    const afterRevocation = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
    );
    out.grants[name] = { tokens, introspection, afterRevocation };
  }

  // A wrong secret must come back as an OAuth error oauth4webapi understands (RFC 6749 §5.2).
  try {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic('wrong-wrong-wrong-wrong'), new URLSearchParams(), insecure);
    await oauth.processClientCredentialsResponse(as, client, response);
    out.wrongSecret = { unexpectedSuccess: true };
  } catch (err) {
    out.wrongSecret = describe(err);
  }
  return out;
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (err) => process.stdout.write(JSON.stringify({ failed: describe(err), cause: err?.cause ? String(JSON.stringify(err.cause)).slice(0, 2000) : undefined })),
);
