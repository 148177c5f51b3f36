// jose v6: jwtVerify with createRemoteJWKSet (jwks_uri from the RFC 8414 metadata), checking
// issuer, audience and typ 'at+jwt' (RFC 9068 §4). Input: {issuer, audience, tokens}. Output: JSON.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const input = JSON.parse(process.argv[2]);

async function main() {
  const metadataUrl = new URL('/.well-known/oauth-authorization-server' + new URL(input.issuer).pathname.replace(/\/$/, ''), input.issuer);
  const metadata = await (await fetch(metadataUrl)).json();
  if (metadata.issuer !== input.issuer) throw new Error(`metadata issuer ${metadata.issuer} is not ${input.issuer}`);
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), { cooldownDuration: 0 });
  const results = [];
  for (const token of input.tokens) {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: input.issuer,
        audience: input.audience,
        typ: 'at+jwt',
        algorithms: ['RS256', 'ES256'],
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
      });
      results.push({ ok: true, payload, protectedHeader });
    } catch (err) {
      results.push({ ok: false, code: err?.code, claim: err?.claim, message: err?.message });
    }
  }
  return { jwksUri: metadata.jwks_uri, results };
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (err) => process.stdout.write(JSON.stringify({ failed: { name: err?.name, code: err?.code, message: err?.message } })),
);
