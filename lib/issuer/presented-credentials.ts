import { isBasicAuthorization, parseBasicAuthorization } from '../basic';
import { authorizationHeaderCount } from '../headers';
import type { FormParams } from '../locals';
import type { ClientAuthMethod } from '../registry';
import { assertionIssuer, CLIENT_ASSERTION_TYPE } from '../tokens';

/** The secret methods of RFC 6749 §2.3.1. */
export type SecretMethod = Exclude<ClientAuthMethod, 'private_key_jwt'>;

/** Credentials as the request presents them, read once; verification comes later. */
export type PresentedCredentials =
  | {
      method: SecretMethod;
      /** null: client_secret_post with a secret but no client_id (fails like a wrong secret). */
      clientId: string | null;
      /**
       * The secret's readings, the RFC's first (Basic credentials sent without form-encoding have a
       * second); empty: a client that only identified itself (RFC 6749 §2.3.1 / §3.2.1).
       */
      secrets: string[];
    }
  | {
      method: 'private_key_jwt';
      /** The form's client_id, else the assertion's (unverified) `iss`; null: neither (fails like a bad assertion). */
      clientId: string | null;
      /** The RFC 7523 §2.2 client assertion, a JWT. */
      assertion: string;
    };

/** What the audit event names when the credentials cannot even be tried. */
export type PresentedMethod = ClientAuthMethod | 'several' | 'none';

/** Why a request's credentials cannot even be tried. */
export type CredentialsRefusal = { refusal: 'malformed'; method: PresentedMethod; reason: string } | { refusal: 'missing'; method: 'none' };

/** Which methods the request used (RFC 6749 §2.3): exactly one is required. */
function methodsOf(authorization: string | undefined, form: FormParams): ClientAuthMethod[] {
  const jwt = form.client_assertion !== undefined || form.client_assertion_type !== undefined;
  // With an assertion, client_id is the assertion's companion (RFC 7521 §4.2), not a secret method.
  const post = form.client_secret !== undefined || (form.client_id !== undefined && !jwt);
  const methods: ClientAuthMethod[] = [];
  if (isBasicAuthorization(authorization)) methods.push('client_secret_basic');
  if (post) methods.push('client_secret_post');
  if (jwt) methods.push('private_key_jwt');
  return methods;
}

/** Reads the one method a request uses, refusing ambiguous or unreadable credentials. */
export function presentedCredentials(headers: { authorization?: string }, rawHeaders: string[], form: FormParams): PresentedCredentials | CredentialsRefusal {
  const methods = methodsOf(headers.authorization, form);
  const method: PresentedMethod = methods.length === 0 ? 'none' : methods.length > 1 ? 'several' : methods[0];
  // Node keeps only the first of repeated headers: credentials must not depend on which one wins.
  if (authorizationHeaderCount(rawHeaders) > 1) return { refusal: 'malformed', method, reason: 'More than one Authorization header.' };
  if (method === 'several') {
    return { refusal: 'malformed', method, reason: 'Use one client authentication method, not several (RFC 6749 section 2.3).' };
  }
  if (method === 'none') return { refusal: 'missing', method };
  if (method === 'private_key_jwt') return assertionCredentials(form);
  if (method === 'client_secret_post') {
    return { method, clientId: form.client_id ?? null, secrets: form.client_secret === undefined ? [] : [form.client_secret] };
  }
  const parsed = parseBasicAuthorization(headers.authorization);
  if (parsed.kind !== 'credentials') {
    return { refusal: 'malformed', method, reason: parsed.kind === 'malformed' ? parsed.reason : 'Malformed Basic credentials.' };
  }
  return { method, clientId: parsed.clientId, secrets: parsed.secrets };
}

/** RFC 7521 §4.2: both parameters, the type exactly the JWT bearer URN (RFC 7523 §2.2). */
function assertionCredentials(form: FormParams): PresentedCredentials | CredentialsRefusal {
  const { client_assertion: assertion, client_assertion_type: type } = form;
  const refused = (reason: string): CredentialsRefusal => ({ refusal: 'malformed', method: 'private_key_jwt', reason });
  if (assertion === undefined) return refused('client_assertion_type was sent without client_assertion (RFC 7521 section 4.2).');
  if (type === undefined) return refused('client_assertion was sent without client_assertion_type (RFC 7521 section 4.2).');
  if (type !== CLIENT_ASSERTION_TYPE) return refused(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE} (RFC 7523 section 2.2).`);
  return { method: 'private_key_jwt', clientId: form.client_id ?? assertionIssuer(assertion), assertion };
}
