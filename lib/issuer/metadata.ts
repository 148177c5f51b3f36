import { Router } from 'express';
import { CLIENT_AUTH_METHODS, type Registry } from '../registry';
import { ASSERTION_ALGORITHMS } from '../tokens';
import { DPOP_ALGORITHMS } from '../tokens/dpop';
import { authorizationServerMetadataPath } from '../well-known';
import { oauthErrorHandler, type ErrorHandlerOptions } from './http';

export interface MetadataConfig extends ErrorHandlerOptions {
  registry: Registry;
  issuer: string;
  /** Absolute URL where the token router is mounted, e.g. https://api.example.com/oauth. */
  endpointsBase: string;
  /** Seconds clients may cache the metadata. */
  maxAgeSeconds: number;
}

/** RFC 8414 §2 metadata: everything a standard client needs to find and use the endpoints. */
export async function buildMetadata(config: MetadataConfig): Promise<Record<string, unknown>> {
  const base = config.endpointsBase;
  return {
    issuer: config.issuer,
    token_endpoint: `${base}/token`,
    jwks_uri: `${base}/jwks`,
    introspection_endpoint: `${base}/introspect`,
    revocation_endpoint: `${base}/revoke`,
    scopes_supported: await config.registry.listScopes(),
    // No authorization endpoint: no response types (the member is REQUIRED by RFC 8414 §2).
    response_types_supported: [],
    grant_types_supported: ['client_credentials'],
    // The same client authentication at all three endpoints; the algorithms are those of private_key_jwt assertions (RFC 7523).
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    // RFC 9449 §5.1: the algorithms the token endpoint accepts for DPoP proofs.
    dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
  };
}

/** Mount at the app's root: app.use(auth.metadataRouter()). */
export function createMetadataRouter(config: MetadataConfig): Router {
  const router = Router();
  router.get(authorizationServerMetadataPath(config.issuer), (_req, res, next) => {
    buildMetadata(config).then((metadata) => {
      res.set('Cache-Control', `public, max-age=${config.maxAgeSeconds}`);
      res.json(metadata);
    }, next);
  });
  // The registry being unreachable is a 503 here too, in JSON.
  router.use(oauthErrorHandler({ onServerError: config.onServerError }));
  return router;
}
