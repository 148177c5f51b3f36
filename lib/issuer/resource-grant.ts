import { invalidScope, invalidTarget } from '../errors';
import type { ClientCredentials, ResourceRecord } from '../registry';
import { resourceUriProblem } from '../registry/rules';
import { grantedScopes } from './scopes';

/** What a token request gets: the scopes, and the audience when it named a resource. */
export interface Grant {
  scopes: string[];
  /** The resource's URI (RFC 8707 §2); undefined: the issuer's configured audience. */
  audience?: string;
}

export interface ResourceGrantConfig {
  findResource(uri: string): Promise<ResourceRecord | null>;
  /** Refuse requests without `resource` (every token audience-restricted). */
  requireResource: boolean;
}

/**
 * RFC 8707 §2 and RFC 6749 §3.3. Without `resource`: the requested scopes (or all of the client's),
 * for the configured audience, decided at once (no promise: a request without a resource pays
 * nothing for resources). With it: the resource must be registered and known by its exact URI
 * (else invalid_target); a requested scope the client lacks, or the resource does not know, is
 * invalid_scope; without `scope`, the client's scopes that the resource knows, and none of them is
 * invalid_target (the client may not get a token for that resource at all). Refusals are thrown,
 * or rejected once the registry was asked.
 */
export function resourceGrant(
  config: ResourceGrantConfig,
  client: ClientCredentials,
  resource: string | undefined,
  scope: string | undefined,
): Grant | Promise<Grant> {
  if (resource === undefined) {
    if (config.requireResource) throw invalidTarget('The resource parameter is required (RFC 8707): name the API this token is for.');
    return { scopes: grantedScopes(scope, client.scopes) };
  }
  if (resourceUriProblem(resource) !== null)
    throw invalidTarget('The resource parameter must be an absolute URI without a fragment or a query (RFC 8707 section 2).');
  return grantAtResource(config, client, resource, scope);
}

async function grantAtResource(config: ResourceGrantConfig, client: ClientCredentials, resource: string, scope: string | undefined): Promise<Grant> {
  const known = await config.findResource(resource);
  if (known === null) throw invalidTarget('The requested resource is not known to this authorization server.');
  const understood = new Set(known.scopes);
  if (scope === undefined) {
    const scopes = client.scopes.filter((s) => understood.has(s));
    if (scopes.length === 0) throw invalidTarget('This client is allowed no scope at the requested resource.');
    return { scopes, audience: known.uri };
  }
  const scopes = grantedScopes(scope, client.scopes);
  if (!scopes.every((s) => understood.has(s))) throw invalidScope('The requested scope is not one the requested resource understands.');
  return { scopes, audience: known.uri };
}
