import type Database from 'better-sqlite3';
import type { ClientJwks } from '../../tokens/jwk-set';
import type { ClientKeysRow, ClientPolicy, ClientStorage, CredentialsRow, NewClientRow } from '../storage';
import type { ClientAuthMethod, ClientRecord, ClientType, DpopPolicy, GrantType, SecretInfo } from '../types';
import { inTransaction, read } from './database';
import type { SqliteGroups } from './groups';
import { jsonList, spacedList } from './rows';

interface ClientRow {
  client_id: string;
  name: string;
  type: ClientType;
  grant_types: string;
  token_ttl: number | null;
  enabled: number;
  auth_method: ClientAuthMethod;
  /** JSON of a ClientJwks, or null. */
  jwks: string | null;
  jwks_uri: string | null;
  dpop: DpopPolicy;
  created_at: number;
  updated_at: number;
  /** JSON arrays. */
  groups: string;
  scopes: string;
  secrets: string;
}

type CredentialsColumns = Pick<
  ClientRow,
  'client_id' | 'type' | 'grant_types' | 'token_ttl' | 'enabled' | 'auth_method' | 'jwks' | 'jwks_uri' | 'dpop' | 'scopes'
> & {
  secrets: string;
};

const SCOPES = `(SELECT json_group_array(DISTINCT gs.scope ORDER BY gs.scope)
     FROM client_groups cg JOIN group_scopes gs ON gs.group_id = cg.group_id WHERE cg.client_id = c.client_id) AS scopes`;

/** Secrets not expired at @now: the current one (no expiry) first, then newest first. */
const secrets = (fields: string): string => `(SELECT json_group_array(json_object(${fields}) ORDER BY expires_at IS NOT NULL, id DESC)
     FROM client_secrets WHERE client_id = c.client_id AND (expires_at IS NULL OR expires_at > @now)) AS secrets`;

const SELECT_CLIENTS = `
  SELECT c.client_id, c.name, c.type, c.grant_types, c.token_ttl, c.enabled, c.auth_method, c.jwks, c.jwks_uri, c.dpop, c.created_at, c.updated_at,
    (SELECT json_group_array(g.name ORDER BY g.name)
       FROM client_groups cg JOIN groups g ON g.id = cg.group_id WHERE cg.client_id = c.client_id) AS groups,
    ${SCOPES},
    ${secrets("'id', id, 'createdAt', created_at, 'expiresAt', expires_at")}
  FROM clients c`;

// Everything client authentication needs in one read (it runs on every token request).
const SELECT_CREDENTIALS = `
  SELECT c.client_id, c.type, c.grant_types, c.token_ttl, c.enabled, c.auth_method, c.jwks, c.jwks_uri, c.dpop, ${SCOPES}, ${secrets("'hash', secret_hash, 'expiresAt', expires_at")}
  FROM clients c WHERE c.client_id = @clientId`;

interface At {
  clientId: string;
  now: number;
}

/** Client rows, memberships and secrets. */
export class SqliteClients implements ClientStorage {
  private readonly byId;
  private readonly all;
  private readonly credentialsById;
  private readonly exists;
  private readonly insertClient;
  private readonly insertMember;
  private readonly deleteMember;
  private readonly updateEnabled;
  private readonly touch;
  private readonly deleteClient;
  private readonly insertSecret;
  private readonly deleteSecrets;
  private readonly endCurrentSecret;
  private readonly updateKeys;
  private readonly updatePolicy;

  constructor(
    private readonly db: Database.Database,
    private readonly groups: SqliteGroups,
  ) {
    this.byId = db.prepare<[At], ClientRow>(`${SELECT_CLIENTS} WHERE c.client_id = @clientId`);
    this.all = db.prepare<[{ now: number }], ClientRow>(`${SELECT_CLIENTS} ORDER BY c.created_at, c.client_id`);
    this.credentialsById = db.prepare<[At], CredentialsColumns>(SELECT_CREDENTIALS);
    this.exists = db.prepare<[string], number>('SELECT 1 FROM clients WHERE client_id = ?').pluck();
    this.insertClient = db.prepare<[Omit<NewClientRow, 'jwks'> & { grantTypesColumn: string; jwksColumn: string | null }]>(
      `INSERT INTO clients (client_id, name, type, grant_types, token_ttl, enabled, auth_method, jwks, jwks_uri, dpop, created_at, updated_at)
       VALUES (@clientId, @name, @type, @grantTypesColumn, @tokenTtl, 1, @authMethod, @jwksColumn, @jwksUri, @dpop, @createdAt, @createdAt)`,
    );
    this.insertMember = db.prepare<[string, number]>('INSERT OR IGNORE INTO client_groups (client_id, group_id) VALUES (?, ?)');
    this.deleteMember = db.prepare<[string, number]>('DELETE FROM client_groups WHERE client_id = ? AND group_id = ?');
    this.updateEnabled = db.prepare<[number, number, string]>('UPDATE clients SET enabled = ?, updated_at = ? WHERE client_id = ?');
    this.touch = db.prepare<[number, string]>('UPDATE clients SET updated_at = ? WHERE client_id = ?');
    this.deleteClient = db.prepare<[string]>('DELETE FROM clients WHERE client_id = ?');
    this.insertSecret = db.prepare<[string, string, number]>(
      'INSERT INTO client_secrets (client_id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, NULL)',
    );
    // Without an overlap every secret goes; with one, all but the current (older overlaps end now).
    this.deleteSecrets = db.prepare<[string, number]>('DELETE FROM client_secrets WHERE client_id = ? AND (expires_at IS NOT NULL OR ? = 0)');
    this.endCurrentSecret = db.prepare<[number, string]>('UPDATE client_secrets SET expires_at = ? WHERE client_id = ? AND expires_at IS NULL');
    this.updateKeys = db.prepare<[string | null, string | null, number, string]>(
      'UPDATE clients SET jwks = ?, jwks_uri = ?, updated_at = ? WHERE client_id = ?',
    );
    this.updatePolicy = db.prepare<[{ dpop: DpopPolicy | null; authMethod: string | null; now: number; clientId: string }]>(
      'UPDATE clients SET dpop = coalesce(@dpop, dpop), auth_method = coalesce(@authMethod, auth_method), updated_at = @now WHERE client_id = @clientId',
    );
  }

  get(clientId: string, now: number): Promise<ClientRecord | null> {
    return read(this.db, () => this.record(clientId, now));
  }

  list(now: number): Promise<ClientRecord[]> {
    return read(this.db, () => this.all.all({ now }).map(toRecord));
  }

  credentials(clientId: string, now: number): Promise<CredentialsRow | null> {
    return read(this.db, () => {
      const row = this.credentialsById.get({ clientId, now });
      return row ? toCredentials(row) : null;
    });
  }

  insert(row: NewClientRow): Promise<ClientRecord | { unknownGroup: string }> {
    return inTransaction(this.db, () => {
      const groupIds = this.groups.idsOf(row.groups);
      if (!Array.isArray(groupIds)) return groupIds;
      const { jwks, ...columns } = row;
      this.insertClient.run({ ...columns, grantTypesColumn: row.grantTypes.join(' '), jwksColumn: jwksColumn(jwks) });
      for (const id of groupIds) this.insertMember.run(row.clientId, id);
      if (row.secretHash !== null) this.insertSecret.run(row.clientId, row.secretHash, row.createdAt);
      return this.written(row.clientId, row.createdAt);
    });
  }

  setEnabled(clientId: string, enabled: boolean, now: number): Promise<ClientRecord | null> {
    return inTransaction(this.db, () => {
      if (this.updateEnabled.run(enabled ? 1 : 0, now, clientId).changes === 0) return null;
      return this.written(clientId, now);
    });
  }

  replaceSecret(clientId: string, secretHash: string, overlapSeconds: number, now: number): Promise<ClientRecord | null> {
    return inTransaction(this.db, () => {
      if (!this.exists.get(clientId)) return null;
      this.deleteSecrets.run(clientId, overlapSeconds);
      if (overlapSeconds > 0) this.endCurrentSecret.run(now + overlapSeconds, clientId);
      this.insertSecret.run(clientId, secretHash, now);
      this.touch.run(now, clientId);
      return this.written(clientId, now);
    });
  }

  setKeys(clientId: string, keys: ClientKeysRow, now: number): Promise<ClientRecord | null> {
    return inTransaction(this.db, () => {
      if (this.updateKeys.run(jwksColumn(keys.jwks), keys.jwksUri, now, clientId).changes === 0) return null;
      return this.written(clientId, now);
    });
  }

  setPolicy(clientId: string, policy: ClientPolicy, now: number): Promise<ClientRecord | null> {
    return inTransaction(this.db, () => {
      if (this.updatePolicy.run({ dpop: policy.dpop ?? null, authMethod: policy.authMethod ?? null, now, clientId }).changes === 0) return null;
      return this.written(clientId, now);
    });
  }

  delete(clientId: string): Promise<boolean> {
    // Memberships and secrets go with it (ON DELETE CASCADE).
    return inTransaction(this.db, () => this.deleteClient.run(clientId).changes > 0);
  }

  addGroups(clientId: string, groups: string[], now: number): Promise<ClientRecord | null | { unknownGroup: string }> {
    return inTransaction(this.db, () => {
      if (!this.exists.get(clientId)) return null;
      const groupIds = this.groups.idsOf(groups);
      if (!Array.isArray(groupIds)) return groupIds;
      for (const id of groupIds) this.insertMember.run(clientId, id);
      this.touch.run(now, clientId);
      return this.written(clientId, now);
    });
  }

  removeGroups(clientId: string, groups: string[], now: number): Promise<ClientRecord | null | { notMember: string[] }> {
    return inTransaction(this.db, () => {
      const client = this.record(clientId, now);
      if (!client) return null;
      const notMember = groups.filter((g) => !client.groups.includes(g));
      if (notMember.length > 0) return { notMember };
      const groupIds = this.groups.idsOf(groups);
      // Every one is a member, so every one exists.
      if (Array.isArray(groupIds)) for (const id of groupIds) this.deleteMember.run(clientId, id);
      this.touch.run(now, clientId);
      return this.written(clientId, now);
    });
  }

  private record(clientId: string, now: number): ClientRecord | null {
    const row = this.byId.get({ clientId, now });
    return row ? toRecord(row) : null;
  }

  /** The client just written, read back inside the same transaction. */
  private written(clientId: string, now: number): ClientRecord {
    const record = this.record(clientId, now);
    if (!record) throw new Error(`client "${clientId}" vanished inside its own transaction`);
    return record;
  }
}

function toRecord(row: ClientRow): ClientRecord {
  return {
    clientId: row.client_id,
    name: row.name,
    type: row.type,
    grantTypes: spacedList(row.grant_types) as GrantType[],
    tokenTtl: row.token_ttl,
    enabled: row.enabled === 1,
    authMethod: row.auth_method,
    jwks: parseJwksColumn(row.jwks),
    jwksUri: row.jwks_uri,
    dpop: row.dpop,
    groups: jsonList(row.groups),
    scopes: jsonList(row.scopes),
    secrets: JSON.parse(row.secrets) as SecretInfo[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toCredentials(row: CredentialsColumns): CredentialsRow {
  return {
    clientId: row.client_id,
    type: row.type,
    grantTypes: spacedList(row.grant_types) as GrantType[],
    tokenTtl: row.token_ttl,
    enabled: row.enabled === 1,
    authMethod: row.auth_method,
    jwks: parseJwksColumn(row.jwks),
    jwksUri: row.jwks_uri,
    dpop: row.dpop,
    scopes: jsonList(row.scopes),
    secrets: JSON.parse(row.secrets) as CredentialsRow['secrets'],
  };
}

const jwksColumn = (jwks: ClientJwks | null): string | null => (jwks === null ? null : JSON.stringify(jwks));
const parseJwksColumn = (value: string | null): ClientJwks | null => (value === null ? null : (JSON.parse(value) as ClientJwks));
