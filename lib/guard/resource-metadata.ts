import { Router } from 'express';
import { ConfigurationError } from '../errors';
import { DPOP_ALGORITHMS } from '../tokens';

/** RFC 9728 §3: the well-known suffix of protected resource metadata. */
export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** What an API says about itself (RFC 9728 §2), so a client can find the authorization server it needs. */
export interface ProtectedResourceOptions {
  /** The resource identifier: this API's URL, the audience its guard checks (an https URL; http for local development). */
  resource: string;
  /** Issuer identifiers of the authorization servers whose tokens this API accepts (default: the guard's issuer). */
  authorizationServers?: string[];
  /** Scopes this API understands (`scopes_supported`). */
  scopes?: string[];
  /** A human-readable name (`resource_name`). */
  resourceName?: string;
  /** A page documenting the API (`resource_documentation`). */
  resourceDocumentation?: string;
  /** Seconds clients may cache the document (default 300). */
  maxAgeSeconds?: number;
}

export interface ProtectedResourceMetadata {
  /** The absolute URL the metadata is served at: what challenges name in `resource_metadata` (RFC 9728 §5.1). */
  url: string;
  /** The path to serve it at, from the app's root. */
  path: string;
  document: Record<string, unknown>;
  maxAgeSeconds: number;
}

/**
 * RFC 9728 §3.1: the well-known path goes between the host and the resource's path (a trailing slash
 * after the host removed), so several APIs on one host each have their own document.
 */
export function protectedResourceMetadataUrl(resource: string): URL {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return new URL(`${PROTECTED_RESOURCE_WELL_KNOWN}${path}`, url.origin);
}

function checkResource(resource: string): URL {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    throw new ConfigurationError('protectedResource.resource', `protectedResource.resource must be an absolute URL, got "${resource}"`);
  }
  // RFC 9728 §1.2: an https URL without a fragment; a query would make the well-known URL ambiguous.
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || resource.includes('#') || resource.includes('?')) {
    throw new ConfigurationError(
      'protectedResource.resource',
      `protectedResource.resource must be an http(s) URL without query or fragment, got "${resource}"`,
    );
  }
  return url;
}

/** The document of RFC 9728 §2, and where it lives. `dpopRequired` and `authorizationServers` come from the guard's own options. */
export function resolveProtectedResource(options: ProtectedResourceOptions, defaults: { issuer?: string; dpopRequired: boolean }): ProtectedResourceMetadata {
  checkResource(options.resource);
  const servers = options.authorizationServers ?? (defaults.issuer === undefined ? [] : [defaults.issuer]);
  if (servers.length === 0) throw new ConfigurationError('protectedResource.authorizationServers', 'name at least one authorization server');
  const url = protectedResourceMetadataUrl(options.resource);
  const document: Record<string, unknown> = {
    resource: options.resource,
    authorization_servers: servers,
    ...(options.scopes ? { scopes_supported: options.scopes } : {}),
    // The guard reads the Authorization header only (RFC 6750 §2.1).
    bearer_methods_supported: ['header'],
    dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
    ...(defaults.dpopRequired ? { dpop_bound_access_tokens_required: true } : {}),
    ...(options.resourceName ? { resource_name: options.resourceName } : {}),
    ...(options.resourceDocumentation ? { resource_documentation: options.resourceDocumentation } : {}),
  };
  return { url: url.href, path: url.pathname, document, maxAgeSeconds: options.maxAgeSeconds ?? 300 };
}

/** Serves the metadata at its well-known path; mount at the app's root. */
export function protectedResourceMetadataRouter(metadata: ProtectedResourceMetadata): Router {
  const router = Router();
  router.get(metadata.path, (_req, res) => {
    res.set('Cache-Control', `public, max-age=${metadata.maxAgeSeconds}`);
    res.json(metadata.document);
  });
  return router;
}
