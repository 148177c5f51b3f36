import { invalidScope } from '../errors';
import { parseScope } from '../scope';

/** Bounds on the scope parameter: generous for real use, small enough to parse cheaply. */
export const MAX_SCOPE_PARAM_LENGTH = 2048;
export const MAX_SCOPES = 64;

/**
 * RFC 6749 §3.3: every requested scope must be allowed to the client. With no scope parameter the
 * client gets all its allowed scopes (our documented default, §3.3 "pre-defined default value").
 */
export function grantedScopes(requested: string | undefined, allowed: string[]): string[] {
  if (requested !== undefined && requested.length > MAX_SCOPE_PARAM_LENGTH) {
    throw invalidScope(`The scope parameter is longer than ${MAX_SCOPE_PARAM_LENGTH} characters.`);
  }
  if (requested === undefined) {
    if (allowed.length === 0) throw invalidScope('This client is allowed no scope.');
    return allowed;
  }
  const scopes = parseScope(requested);
  if (scopes === null) throw invalidScope('The scope parameter is malformed (RFC 6749 section 3.3).');
  if (scopes.length > MAX_SCOPES) throw invalidScope(`At most ${MAX_SCOPES} scopes may be requested.`);
  const allowedSet = new Set(allowed);
  const refused = scopes.filter((s) => !allowedSet.has(s));
  if (refused.length > 0) throw invalidScope('The requested scope exceeds what this client is allowed.');
  return scopes;
}
