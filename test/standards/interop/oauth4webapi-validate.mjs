// Resource-server side with oauth4webapi: validateJwtAccessToken (RFC 9068) after RFC 8414 discovery.
// Input: {issuer, audience, tokens: [..]}. Output: one {ok, claims} or {error} per token.
import * as oauth from 'oauth4webapi';

const input = JSON.parse(process.argv[2]);
const insecure = { [oauth.allowInsecureRequests]: true };

async function main() {
  const issuer = new URL(input.issuer);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  const results = [];
  for (const token of input.tokens) {
    const request = new Request('http://rs.example/resource', { headers: { authorization: `Bearer ${token}` } });
    try {
      const claims = await oauth.validateJwtAccessToken(as, request, input.audience, insecure);
      results.push({ ok: true, claims });
    } catch (err) {
      results.push({ ok: false, name: err?.name, code: err?.code, message: err?.message });
    }
  }
  return { results };
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (err) => process.stdout.write(JSON.stringify({ failed: { name: err?.name, code: err?.code, message: err?.message } })),
);
