/** WWW-Authenticate challenges: RFC 6750 §3, RFC 9449 §7.1 (DPoP), RFC 9728 §5.1 (resource_metadata). */
import { InvalidDpopProofError, InvalidTokenError, MissingTokenError, UseDpopNonceError } from '../../lib/errors';
import { MemoryReplayStore } from '../../lib/guard/memory-replay';
import { protectedResourceMetadataUrl, resolveProtectedResource } from '../../lib/guard/resource-metadata';
import { ConfigurationError } from '../../lib';

const dpop = { realm: 'ccgate', schemes: ['Bearer', 'DPoP'] as const, dpopAlgs: ['ES256', 'RS256', 'PS256'] };

test('RFC 6750 §3: a Bearer-only resource answers one Bearer challenge, as before', () => {
  expect(new MissingTokenError({ realm: 'ccgate' }).headers['WWW-Authenticate']).toBe('Bearer realm="ccgate"');
});

test('RFC 9449 §7.1: no token at a resource accepting both: a challenge per scheme, DPoP with its algs, no error', () => {
  expect(new MissingTokenError(dpop).headers['WWW-Authenticate']).toBe('Bearer realm="ccgate", DPoP realm="ccgate", algs="ES256 RS256 PS256"');
});

test('the error goes in the challenge of the scheme the request used', () => {
  const bearer = new InvalidTokenError('The access token expired.', { ...dpop, used: 'Bearer' }).headers['WWW-Authenticate'];
  expect(bearer).toBe(
    'Bearer realm="ccgate", error="invalid_token", error_description="The access token expired.", DPoP realm="ccgate", algs="ES256 RS256 PS256"',
  );
  const proof = new InvalidDpopProofError('This DPoP proof was used before.', dpop);
  expect(proof.status).toBe(401);
  expect(proof.headers['WWW-Authenticate']).toBe(
    'Bearer realm="ccgate", DPoP realm="ccgate", error="invalid_dpop_proof", error_description="This DPoP proof was used before.", algs="ES256 RS256 PS256"',
  );
});

test('RFC 9449 §9: use_dpop_nonce is a 401 with the nonce in DPoP-Nonce', () => {
  const err = new UseDpopNonceError('n-123', dpop);
  expect(err).toMatchObject({ status: 401, code: 'use_dpop_nonce' });
  expect(err.headers['DPoP-Nonce']).toBe('n-123');
  expect(err.headers['WWW-Authenticate']).toContain('DPoP realm="ccgate", error="use_dpop_nonce"');
});

test('RFC 9728 §5.1: every challenge names the resource metadata when configured', () => {
  const challenge = { realm: 'ccgate', resourceMetadata: 'https://api.example.com/.well-known/oauth-protected-resource/reports' };
  expect(new MissingTokenError(challenge).headers['WWW-Authenticate']).toBe(
    'Bearer realm="ccgate", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/reports"',
  );
});

test('RFC 9728 §3.1: the well-known path goes between the host and the resource path', () => {
  expect(protectedResourceMetadataUrl('https://api.example.com').href).toBe('https://api.example.com/.well-known/oauth-protected-resource');
  expect(protectedResourceMetadataUrl('https://api.example.com/').href).toBe('https://api.example.com/.well-known/oauth-protected-resource');
  expect(protectedResourceMetadataUrl('https://api.example.com/tenant/reports').href).toBe(
    'https://api.example.com/.well-known/oauth-protected-resource/tenant/reports',
  );
  expect(protectedResourceMetadataUrl('http://localhost:4000/reports').href).toBe('http://localhost:4000/.well-known/oauth-protected-resource/reports');
});

test('RFC 9728 §2: the document; a resource with a query or fragment, or no authorization server, is a ConfigurationError', () => {
  const metadata = resolveProtectedResource(
    { resource: 'https://api.example.com/reports', scopes: ['reports:read'] },
    { issuer: 'https://as.example.com', dpopRequired: true },
  );
  expect(metadata).toMatchObject({
    url: 'https://api.example.com/.well-known/oauth-protected-resource/reports',
    path: '/.well-known/oauth-protected-resource/reports',
  });
  expect(metadata.document).toEqual({
    resource: 'https://api.example.com/reports',
    authorization_servers: ['https://as.example.com'],
    scopes_supported: ['reports:read'],
    bearer_methods_supported: ['header'],
    dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256'],
    dpop_bound_access_tokens_required: true,
  });
  for (const resource of ['https://api.example.com/?a=1', 'https://api.example.com/#x', 'reports', 'ftp://api.example.com']) {
    expect(() => resolveProtectedResource({ resource }, { issuer: 'https://as.example.com', dpopRequired: false })).toThrow(ConfigurationError);
  }
  expect(() => resolveProtectedResource({ resource: 'https://api.example.com' }, { dpopRequired: false })).toThrow(ConfigurationError);
});

test('the memory replay store refuses a second use until the id expires, and stays bounded', async () => {
  let now = 1000;
  const store = new MemoryReplayStore(() => now);
  expect(await store.useOnce('a', 1060)).toBe(true);
  expect(await store.useOnce('a', 1060)).toBe(false);
  now = 1061;
  expect(await store.useOnce('a', 1120)).toBe(true);
  for (let i = 0; i < 100_050; i++) await store.useOnce(`x${i}`, 5000);
  expect(await store.useOnce('x100049', 5000)).toBe(false);
});
