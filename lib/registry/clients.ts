import type Database from 'better-sqlite3';
import { invalid, notFound } from '../errors';
import { columnList } from './columns';
import type { Groups } from './groups';
import { KNOWN_GRANT_TYPES, type ClientCredentials, type ClientRecord, type ClientType, type GrantType, type NewClient, type SecretInfo } from './types';

/** Longest access token lifetime anyone may configure: RFC 9700 §2.2 wants short-lived tokens. */
export const MAX_TOKEN_TTL_SECONDS = 86_400;

interface ClientRow {
  client_id: string;
  name: string;
  type: ClientType;
  grant_types: string;
  token_ttl: number | null;
  enabled: number;
  created_at: number;
  updated_at: number;
  groups: string | null;
  scopes: string | null;
}

const SELECT_CLIENTS = `
  SELECT c.client_id, c.name, c.type, c.grant_types, c.token_ttl, c.enabled, c.created_at, c.updated_at,
    (SELECT group_concat(name, ' ') FROM (
       SELECT g.name FROM client_groups cg JOIN groups g ON g.id = cg.group_id
       WHERE cg.client_id = c.client_id ORDER BY g.name)) AS groups,
    (SELECT group_concat(scope, ' ') FROM (
       SELECT DISTINCT gs.scope FROM client_groups cg JOIN group_scopes gs ON gs.group_id = cg.group_id
       WHERE cg.client_id = c.client_id ORDER BY gs.scope)) AS scopes
  FROM clients c`;

export function assertTokenTtl(ttl: number | null | undefined): void {
  if (ttl === null || ttl === undefined) return;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
    throw invalid(`token lifetime must be a whole number of seconds from 1 to ${MAX_TOKEN_TTL_SECONDS}`);
  }
}

function assertClientName(name: string): void {
  // eslint-disable-next-line no-control-regex
  if (name.length < 1 || name.length > 200 || /[\x00-\x1f\x7f]/.test(name)) {
    throw invalid('a client name must be 1 to 200 characters, without control characters');
  }
}

function assertGrantTypes(grantTypes: string[]): asserts grantTypes is GrantType[] {
  for (const g of grantTypes) {
    if (!(KNOWN_GRANT_TYPES as readonly string[]).includes(g)) {
      throw invalid(`unknown grant type "${g}" (known: ${KNOWN_GRANT_TYPES.join(', ')})`);
    }
  }
}

/** Client rows, memberships and secrets. Synchronous; callers wrap writes in transactions. */
export class Clients {
  private readonly byId;
  private readonly all;
  private readonly insert;
  private readonly insertMember;
  private readonly deleteMember;
  private readonly setEnabled;
  private readonly touch;
  private readonly remove;
  private readonly secretsOf;
  private readonly credentialsById;
  private readonly insertSecret;
  private readonly deleteSecrets;
  private readonly endCurrentSecret;

  constructor(
    db: Database.Database,
    private readonly groups: Groups,
  ) {
    this.byId = db.prepare<[string], ClientRow>(`${SELECT_CLIENTS} WHERE c.client_id = ?`);
    this.all = db.prepare<[], ClientRow>(`${SELECT_CLIENTS} ORDER BY c.created_at, c.client_id`);
    this.insert = db.prepare(
      `INSERT INTO clients (client_id, name, type, grant_types, token_ttl, enabled, created_at, updated_at)
       VALUES (@clientId, @name, @type, @grantTypes, @tokenTtl, 1, @now, @now)`,
    );
    this.insertMember = db.prepare<[string, number]>('INSERT OR IGNORE INTO client_groups (client_id, group_id) VALUES (?, ?)');
    this.deleteMember = db.prepare<[string, number]>('DELETE FROM client_groups WHERE client_id = ? AND group_id = ?');
    this.setEnabled = db.prepare<[number, number, string]>('UPDATE clients SET enabled = ?, updated_at = ? WHERE client_id = ?');
    this.touch = db.prepare<[number, string]>('UPDATE clients SET updated_at = ? WHERE client_id = ?');
    this.remove = db.prepare<[string]>('DELETE FROM clients WHERE client_id = ?');
    this.secretsOf = db.prepare<[string, number], { id: number; created_at: number; expires_at: number | null }>(
      `SELECT id, created_at, expires_at FROM client_secrets
       WHERE client_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY expires_at IS NOT NULL, id DESC`,
    );
    // Everything client authentication needs in one read (it runs on every token request).
    this.credentialsById = db.prepare<[number, string], ClientRow & { hashes: string | null }>(
      SELECT_CLIENTS.replace(
        'FROM clients c',
        `, (SELECT group_concat(secret_hash, ' ') FROM (
             SELECT secret_hash FROM client_secrets
             WHERE client_id = c.client_id AND (expires_at IS NULL OR expires_at > ?)
             ORDER BY expires_at IS NOT NULL, id DESC)) AS hashes
         FROM clients c WHERE c.client_id = ?`,
      ),
    );
    this.insertSecret = db.prepare<[string, string, number]>(
      'INSERT INTO client_secrets (client_id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, NULL)',
    );
    this.deleteSecrets = db.prepare<[string, number]>('DELETE FROM client_secrets WHERE client_id = ? AND (expires_at IS NOT NULL OR ? = 0)');
    this.endCurrentSecret = db.prepare<[number, string]>('UPDATE client_secrets SET expires_at = ? WHERE client_id = ? AND expires_at IS NULL');
  }

  get(clientId: string, now: number): ClientRecord | null {
    const row = this.byId.get(clientId);
    return row ? this.toRecord(row, now) : null;
  }

  list(now: number): ClientRecord[] {
    return this.all.all().map((row) => this.toRecord(row, now));
  }

  credentials(clientId: string, now: number): ClientCredentials | null {
    const row = this.credentialsById.get(now, clientId);
    if (!row) return null;
    return {
      clientId: row.client_id,
      type: row.type,
      grantTypes: columnList(row.grant_types) as GrantType[],
      tokenTtl: row.token_ttl,
      enabled: row.enabled === 1,
      scopes: columnList(row.scopes),
      secretHashes: columnList(row.hashes),
    };
  }

  /** Validates everything before writing anything. `secretHash` is null for a public client. */
  create(clientId: string, input: NewClient, secretHash: string | null, now: number): ClientRecord {
    const type = input.type ?? 'confidential';
    const grantTypes = input.grantTypes ?? ['client_credentials'];
    assertClientName(input.name);
    assertGrantTypes(grantTypes);
    assertTokenTtl(input.tokenTtl);
    if (type !== 'confidential' && type !== 'public') throw invalid(`client type must be confidential or public`);
    const groupIds = this.groups.idsOf(input.groups ?? []);
    this.insert.run({ clientId, name: input.name, type, grantTypes: grantTypes.join(' '), tokenTtl: input.tokenTtl ?? null, now });
    for (const id of groupIds) this.insertMember.run(clientId, id);
    if (secretHash !== null) this.insertSecret.run(clientId, secretHash, now);
    return this.require(clientId, now);
  }

  setClientEnabled(clientId: string, enabled: boolean, now: number): ClientRecord {
    this.require(clientId, now);
    this.setEnabled.run(enabled ? 1 : 0, now, clientId);
    return this.require(clientId, now);
  }

  /**
   * The new hash becomes current. With an overlap the current secret stays valid until then; any
   * older overlapping secret ends now (at most two valid secrets at a time).
   */
  replaceSecret(clientId: string, secretHash: string, overlapSeconds: number, now: number): ClientRecord {
    const client = this.require(clientId, now);
    if (client.type !== 'confidential') throw invalid(`client "${clientId}" is public and has no secret`);
    this.deleteSecrets.run(clientId, overlapSeconds);
    if (overlapSeconds > 0) this.endCurrentSecret.run(now + overlapSeconds, clientId);
    this.insertSecret.run(clientId, secretHash, now);
    this.touch.run(now, clientId);
    return this.require(clientId, now);
  }

  delete(clientId: string, now: number): void {
    this.require(clientId, now);
    this.remove.run(clientId);
  }

  addGroups(clientId: string, groups: string[], now: number): ClientRecord {
    this.require(clientId, now);
    for (const id of this.groups.idsOf(groups)) this.insertMember.run(clientId, id);
    this.touch.run(now, clientId);
    return this.require(clientId, now);
  }

  removeGroups(clientId: string, groups: string[], now: number): ClientRecord {
    const client = this.require(clientId, now);
    const missing = groups.filter((g) => !client.groups.includes(g));
    if (missing.length > 0) throw notFound(`membership of client "${clientId}" in group ${missing.map((g) => `"${g}"`).join(', ')}`);
    for (const id of this.groups.idsOf(groups)) this.deleteMember.run(clientId, id);
    this.touch.run(now, clientId);
    return this.require(clientId, now);
  }

  private require(clientId: string, now: number): ClientRecord {
    const client = this.get(clientId, now);
    if (!client) throw notFound(`client "${clientId}"`);
    return client;
  }

  private toRecord(row: ClientRow, now: number): ClientRecord {
    const secrets: SecretInfo[] = this.secretsOf.all(row.client_id, now).map((s) => ({ id: s.id, createdAt: s.created_at, expiresAt: s.expires_at }));
    return {
      clientId: row.client_id,
      name: row.name,
      type: row.type,
      grantTypes: columnList(row.grant_types) as GrantType[],
      tokenTtl: row.token_ttl,
      enabled: row.enabled === 1,
      groups: columnList(row.groups),
      scopes: columnList(row.scopes),
      secrets,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
