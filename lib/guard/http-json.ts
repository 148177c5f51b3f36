import { IssuerUnavailableError } from '../errors';
import { fetchJson, type FetchLike } from '../remote/fetch-json';
import { authorizationServerMetadataUrl } from '../well-known';

export { fetchJson, type FetchLike };

export interface IssuerMetadata {
  jwksUri?: string;
  introspectionEndpoint?: string;
}

/** Fetches and checks the issuer's metadata: RFC 8414 §3.3 requires `issuer` to match exactly. */
export async function discover(fetchImpl: FetchLike, issuer: string, timeoutMs: number): Promise<IssuerMetadata> {
  const metadata = await fetchJson(fetchImpl, authorizationServerMetadataUrl(issuer), timeoutMs);
  if (metadata.issuer !== issuer) throw new IssuerUnavailableError(`metadata issuer "${String(metadata.issuer)}" is not "${issuer}"`);
  // An https issuer's endpoints must be https too: no downgrade through the metadata.
  const scheme = new URL(issuer).protocol === 'https:' ? /^https:\/\// : /^https?:\/\//;
  const url = (v: unknown): string | undefined => (typeof v === 'string' && scheme.test(v) ? v : undefined);
  return { jwksUri: url(metadata.jwks_uri), introspectionEndpoint: url(metadata.introspection_endpoint) };
}
