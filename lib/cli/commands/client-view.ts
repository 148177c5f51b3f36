// How a client is printed: its JSON (public keys at most, never a secret or a hash) and its text form.
import type { ClientRecord } from '../../registry';
import { formatList, formatTime, printFields, printLine, printTable } from '../output';

/** "none" for a public client, which authenticates with nothing (RFC 7591 §2). */
export const authMethodOf = (c: ClientRecord): string => (c.type === 'public' ? 'none' : c.authMethod);

export function clientJson(c: ClientRecord) {
  return {
    client_id: c.clientId,
    name: c.name,
    type: c.type,
    auth_method: authMethodOf(c),
    // RFC 9449 §5.2: "required" is dpop_bound_access_tokens true.
    dpop: c.dpop,
    enabled: c.enabled,
    groups: c.groups,
    scopes: c.scopes,
    grant_types: c.grantTypes,
    token_ttl: c.tokenTtl,
    secrets: c.secrets.map((s) => ({ id: s.id, created_at: s.createdAt, expires_at: s.expiresAt })),
    // The registry keeps public members only.
    jwks: c.jwks,
    jwks_uri: c.jwksUri,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

/** One registered public key (RSA or EC P-256), as the registry keeps it. */
type ClientKey = NonNullable<ClientRecord['jwks']>['keys'][number];

/** The client's DPoP policy (RFC 9449 §5.2), said in words. */
export const dpopText = (c: ClientRecord): string => (c.dpop === 'required' ? 'required (every token request carries a DPoP proof)' : 'allowed');

export const ttlText = (c: ClientRecord): string => (c.tokenTtl === null ? 'server default' : `${c.tokenTtl}s`);

export const kidsOf = (c: ClientRecord): string[] => (c.jwks?.keys ?? []).map((k) => k.kid);

/** A key's algorithms: its alg, or every one its type may sign with. */
const algText = (k: ClientKey): string => k.alg ?? (k.kty === 'RSA' ? 'RS256 PS256' : 'ES256');

/** A private_key_jwt client's registered keys by kid, type and algorithm: never the key material. */
function printKeys(c: ClientRecord): void {
  printLine('keys:');
  printTable(
    ['  KID', 'TYPE', 'ALG'],
    (c.jwks?.keys ?? []).map((k) => [`  ${k.kid}`, k.kty, algText(k)]),
    '  (none)',
  );
}

function printSecrets(c: ClientRecord): void {
  printLine('secrets:');
  printTable(
    ['  ID', 'CREATED', 'EXPIRES'],
    c.secrets.map((s) => [`  ${s.id}`, formatTime(s.createdAt), formatTime(s.expiresAt, 'never (current)')]),
    '  (none valid)',
  );
}

export function printClient(c: ClientRecord): void {
  printFields([
    ['client_id', c.clientId],
    ['name', c.name],
    ['type', c.type],
    ['auth method', authMethodOf(c)],
    ['dpop', dpopText(c)],
    ['enabled', c.enabled ? 'yes' : 'no'],
    ['token ttl', ttlText(c)],
    ['groups', formatList(c.groups)],
    ['scopes', formatList(c.scopes)],
    ['created', formatTime(c.createdAt)],
    ['updated', formatTime(c.updatedAt)],
    ...(c.jwksUri === null ? [] : [['jwks_uri', c.jwksUri] as [string, string]]),
  ]);
  if (c.type === 'public' || c.jwksUri !== null) return;
  if (c.authMethod === 'private_key_jwt') printKeys(c);
  else printSecrets(c);
}

/** One line naming a private_key_jwt client's keys: "keys k1 k2" or "the keys at <jwks_uri>". */
export const keysText = (c: ClientRecord): string => (c.jwksUri === null ? `keys ${formatList(kidsOf(c), '(none)')}` : `the keys at ${c.jwksUri}`);
