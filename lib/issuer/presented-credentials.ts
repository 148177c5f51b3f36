import { isBasicAuthorization, parseBasicAuthorization } from '../basic';
import { authorizationHeaderCount } from '../headers';
import type { FormParams } from '../locals';

/** The client authentication methods of RFC 6749 §2.3.1 that ccgate serves. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

/** Credentials as the request presents them, read once; verification comes later. */
export interface PresentedCredentials {
  method: ClientAuthMethod;
  /** null: client_secret_post with a secret but no client_id (fails like a wrong secret). */
  clientId: string | null;
  /**
   * The secret's readings, the RFC's first (Basic credentials sent without form-encoding have a
   * second); empty: a client that only identified itself (RFC 6749 §2.3.1 / §3.2.1).
   */
  secrets: string[];
}

/** Why a request's credentials cannot even be tried; `method` is what the audit event names. */
export type CredentialsRefusal = { refusal: 'malformed'; method: ClientAuthMethod | 'both' | 'none'; reason: string } | { refusal: 'missing'; method: 'none' };

/** Which method the request used (RFC 6749 §2.3): exactly one is required. */
function methodOf(authorization: string | undefined, form: FormParams): ClientAuthMethod | 'none' | 'both' {
  const basic = isBasicAuthorization(authorization);
  const post = form.client_id !== undefined || form.client_secret !== undefined;
  if (basic && post) return 'both';
  return basic ? 'client_secret_basic' : post ? 'client_secret_post' : 'none';
}

/** Reads the one method a request uses, refusing ambiguous or unreadable credentials. */
export function presentedCredentials(headers: { authorization?: string }, rawHeaders: string[], form: FormParams): PresentedCredentials | CredentialsRefusal {
  const method = methodOf(headers.authorization, form);
  // Node keeps only the first of repeated headers: credentials must not depend on which one wins.
  if (authorizationHeaderCount(rawHeaders) > 1) return { refusal: 'malformed', method, reason: 'More than one Authorization header.' };
  if (method === 'both') {
    return { refusal: 'malformed', method, reason: 'Use one client authentication method, not both (RFC 6749 section 2.3).' };
  }
  if (method === 'none') return { refusal: 'missing', method };
  if (method === 'client_secret_post') {
    return { method, clientId: form.client_id ?? null, secrets: form.client_secret === undefined ? [] : [form.client_secret] };
  }
  const parsed = parseBasicAuthorization(headers.authorization);
  if (parsed.kind !== 'credentials') {
    return { refusal: 'malformed', method, reason: parsed.kind === 'malformed' ? parsed.reason : 'Malformed Basic credentials.' };
  }
  return { method, clientId: parsed.clientId, secrets: parsed.secrets };
}
