import type { ClientJwks } from '../../tokens/jwk-set';
import type { CredentialsRow } from '../storage';
import type { ClientAuthMethod, ClientRecord, ClientType, DpopPolicy, GrantType, SecretInfo } from '../types';
import type { Tables } from './names';

/*
 * The reads of clients, each one statement: a client with its groups, the union of their scopes
 * and its secrets not expired at `now` (the current one first, then by id descending), all
 * aggregated in place. $1 is always `now`.
 */

interface ClientColumns {
  client_id: string;
  type: ClientType;
  grant_types: GrantType[];
  token_ttl: number | null;
  enabled: boolean;
  auth_method: ClientAuthMethod;
  jwks: ClientJwks | null;
  jwks_uri: string | null;
  dpop: DpopPolicy;
  scopes: string[];
}

export interface ClientRow extends ClientColumns {
  name: string;
  created_at: number;
  updated_at: number;
  groups: string[];
  secrets: SecretInfo[];
}

export interface CredentialsDbRow extends ClientColumns {
  secrets: CredentialsRow['secrets'];
}

const scopesOf = (t: Tables): string => `
  ARRAY(SELECT DISTINCT gs.scope FROM ${t.client_groups} cg JOIN ${t.group_scopes} gs ON gs.group_id = cg.group_id
        WHERE cg.client_id = c.client_id ORDER BY gs.scope) AS scopes`;

const secretsOf = (t: Tables, fields: string): string => `
  (SELECT coalesce(json_agg(json_build_object(${fields}) ORDER BY s.expires_at IS NOT NULL, s.id DESC), '[]'::json)
   FROM ${t.client_secrets} s WHERE s.client_id = c.client_id AND (s.expires_at IS NULL OR s.expires_at > $1)) AS secrets`;

/** Every column of ClientRow; append `WHERE` / `ORDER BY`. */
export const selectClients = (t: Tables): string => `
  SELECT c.client_id, c.name, c.type, c.grant_types, c.token_ttl, c.enabled, c.auth_method, c.jwks, c.jwks_uri, c.dpop, c.created_at, c.updated_at,
         ARRAY(SELECT g.name FROM ${t.client_groups} cg JOIN ${t.groups} g ON g.id = cg.group_id
               WHERE cg.client_id = c.client_id ORDER BY g.name) AS groups,
         ${scopesOf(t)},
         ${secretsOf(t, `'id', s.id, 'createdAt', s.created_at, 'expiresAt', s.expires_at`)}
  FROM ${t.clients} c`;

/** What client authentication needs, for client $2: one round trip on every uncached token request. */
export const selectCredentials = (t: Tables): string => `
  SELECT c.client_id, c.type, c.grant_types, c.token_ttl, c.enabled, c.auth_method, c.jwks, c.jwks_uri, c.dpop,
         ${scopesOf(t)},
         ${secretsOf(t, `'hash', s.secret_hash, 'expiresAt', s.expires_at`)}
  FROM ${t.clients} c WHERE c.client_id = $2`;

export function toClientRecord(row: ClientRow): ClientRecord {
  return {
    clientId: row.client_id,
    name: row.name,
    type: row.type,
    grantTypes: row.grant_types,
    tokenTtl: row.token_ttl,
    enabled: row.enabled,
    authMethod: row.auth_method,
    jwks: row.jwks,
    jwksUri: row.jwks_uri,
    dpop: row.dpop,
    groups: row.groups,
    scopes: row.scopes,
    secrets: row.secrets,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toCredentials(row: CredentialsDbRow): CredentialsRow {
  return {
    clientId: row.client_id,
    type: row.type,
    grantTypes: row.grant_types,
    tokenTtl: row.token_ttl,
    enabled: row.enabled,
    authMethod: row.auth_method,
    jwks: row.jwks,
    jwksUri: row.jwks_uri,
    dpop: row.dpop,
    scopes: row.scopes,
    secrets: row.secrets,
  };
}
