/**
 * RFC 8414 §3.1: an issuer's metadata lives at /.well-known/oauth-authorization-server, with the
 * issuer's path (if any) appended after the well-known segment. Shared by the issuer, which serves
 * it, and the remote guard, which fetches it.
 */
export function authorizationServerMetadataPath(issuer: string): string {
  const path = new URL(issuer).pathname.replace(/\/$/, '');
  return `/.well-known/oauth-authorization-server${path}`;
}

/** The absolute metadata URL of an issuer. */
export function authorizationServerMetadataUrl(issuer: string): string {
  return `${new URL(issuer).origin}${authorizationServerMetadataPath(issuer)}`;
}
