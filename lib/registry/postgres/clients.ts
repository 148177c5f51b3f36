import type { ClientKeysRow, ClientPolicy, ClientStorage, CredentialsRow, NewClientRow } from '../storage';
import type { ClientRecord } from '../types';
import { selectClients, selectCredentials, toClientRecord, toCredentials, type ClientRow, type CredentialsDbRow } from './client-rows';
import type { Tables } from './names';
import type { Database, Executor } from './pool';

/** Named, so each pooled connection parses and plans it once: it runs on every uncached token request. */
const CREDENTIALS_STATEMENT = 'ccgate-credentials';

/** Clients, their memberships and their secrets. */
export class PostgresClients implements ClientStorage {
  private readonly select: string;
  private readonly credentialsSql: string;

  constructor(
    private readonly db: Database,
    private readonly t: Tables,
  ) {
    this.select = selectClients(t);
    this.credentialsSql = selectCredentials(t);
  }

  get(clientId: string, now: number): Promise<ClientRecord | null> {
    return this.read(this.db, clientId, now);
  }

  async list(now: number): Promise<ClientRecord[]> {
    return (await this.db.rows<ClientRow>(`${this.select} ORDER BY c.created_at, c.client_id`, [now])).map(toClientRecord);
  }

  async credentials(clientId: string, now: number): Promise<CredentialsRow | null> {
    const [row] = await this.db.rows<CredentialsDbRow>(this.credentialsSql, [now, clientId], CREDENTIALS_STATEMENT);
    return row ? toCredentials(row) : null;
  }

  insert(row: NewClientRow): Promise<ClientRecord | { unknownGroup: string }> {
    return this.db.transaction(async (tx) => {
      const groupIds = await this.groupIds(tx, row.groups);
      if ('unknownGroup' in groupIds) return groupIds;
      await tx.run(
        `INSERT INTO ${this.t.clients} (client_id, name, type, grant_types, token_ttl, enabled, auth_method, jwks, jwks_uri, dpop, created_at, updated_at)
         VALUES ($1, $2, $3, $4::text[], $5, true, $7, $8::json, $9, $10, $6, $6)`,
        [row.clientId, row.name, row.type, row.grantTypes, row.tokenTtl, row.createdAt, row.authMethod, jsonParam(row.jwks), row.jwksUri, row.dpop],
      );
      await this.addMemberships(tx, row.clientId, groupIds.ids);
      if (row.secretHash !== null) await this.insertSecret(tx, row.clientId, row.secretHash, row.createdAt);
      return this.require(tx, row.clientId, row.createdAt);
    });
  }

  setEnabled(clientId: string, enabled: boolean, now: number): Promise<ClientRecord | null> {
    return this.db.transaction(async (tx) => {
      const updated = await tx.run(`UPDATE ${this.t.clients} SET enabled = $2, updated_at = $3 WHERE client_id = $1`, [clientId, enabled, now]);
      return updated === 0 ? null : this.require(tx, clientId, now);
    });
  }

  replaceSecret(clientId: string, secretHash: string, overlapSeconds: number, now: number): Promise<ClientRecord | null> {
    return this.db.transaction(async (tx) => {
      if (!(await this.lock(tx, clientId))) return null;
      const secrets = this.t.client_secrets;
      if (overlapSeconds > 0) {
        // Any older overlapping secret ends now; the current one stays valid for the overlap.
        await tx.run(`DELETE FROM ${secrets} WHERE client_id = $1 AND expires_at IS NOT NULL`, [clientId]);
        await tx.run(`UPDATE ${secrets} SET expires_at = $2 WHERE client_id = $1 AND expires_at IS NULL`, [clientId, now + overlapSeconds]);
      } else {
        await tx.run(`DELETE FROM ${secrets} WHERE client_id = $1`, [clientId]);
      }
      await this.insertSecret(tx, clientId, secretHash, now);
      await this.touch(tx, clientId, now);
      return this.require(tx, clientId, now);
    });
  }

  setKeys(clientId: string, keys: ClientKeysRow, now: number): Promise<ClientRecord | null> {
    return this.db.transaction(async (tx) => {
      const updated = await tx.run(`UPDATE ${this.t.clients} SET jwks = $2::json, jwks_uri = $3, updated_at = $4 WHERE client_id = $1`, [
        clientId,
        jsonParam(keys.jwks),
        keys.jwksUri,
        now,
      ]);
      return updated === 0 ? null : this.require(tx, clientId, now);
    });
  }

  setPolicy(clientId: string, policy: ClientPolicy, now: number): Promise<ClientRecord | null> {
    return this.db.transaction(async (tx) => {
      const updated = await tx.run(
        `UPDATE ${this.t.clients} SET dpop = coalesce($2, dpop), auth_method = coalesce($3, auth_method), updated_at = $4 WHERE client_id = $1`,
        [clientId, policy.dpop ?? null, policy.authMethod ?? null, now],
      );
      return updated === 0 ? null : this.require(tx, clientId, now);
    });
  }

  async delete(clientId: string): Promise<boolean> {
    // Memberships and secrets go with it (ON DELETE CASCADE); one statement is one transaction.
    return (await this.db.run(`DELETE FROM ${this.t.clients} WHERE client_id = $1`, [clientId])) > 0;
  }

  addGroups(clientId: string, groups: string[], now: number): Promise<ClientRecord | null | { unknownGroup: string }> {
    return this.db.transaction(async (tx) => {
      if (!(await this.lock(tx, clientId))) return null;
      const groupIds = await this.groupIds(tx, groups);
      if ('unknownGroup' in groupIds) return groupIds;
      await this.addMemberships(tx, clientId, groupIds.ids);
      await this.touch(tx, clientId, now);
      return this.require(tx, clientId, now);
    });
  }

  removeGroups(clientId: string, groups: string[], now: number): Promise<ClientRecord | null | { notMember: string[] }> {
    return this.db.transaction(async (tx) => {
      if (!(await this.lock(tx, clientId))) return null;
      const held = await tx.rows<{ id: number; name: string }>(
        `SELECT g.id, g.name FROM ${this.t.client_groups} cg JOIN ${this.t.groups} g ON g.id = cg.group_id
         WHERE cg.client_id = $1 AND g.name = ANY($2::text[])`,
        [clientId, groups],
      );
      const heldNames = new Set(held.map((row) => row.name));
      const notMember = groups.filter((group) => !heldNames.has(group));
      if (notMember.length > 0) return { notMember };
      const ids = held.map((row) => row.id);
      await tx.run(`DELETE FROM ${this.t.client_groups} WHERE client_id = $1 AND group_id = ANY($2::bigint[])`, [clientId, ids]);
      await this.touch(tx, clientId, now);
      return this.require(tx, clientId, now);
    });
  }

  private async read(ex: Executor, clientId: string, now: number): Promise<ClientRecord | null> {
    const [row] = await ex.rows<ClientRow>(`${this.select} WHERE c.client_id = $2`, [now, clientId]);
    return row ? toClientRecord(row) : null;
  }

  /** Read back inside the writing transaction, where the client certainly exists. */
  private async require(tx: Executor, clientId: string, now: number): Promise<ClientRecord> {
    const client = await this.read(tx, clientId, now);
    if (!client) throw new Error(`client "${clientId}" vanished inside its own transaction`);
    return client;
  }

  /** Locks the client row for the transaction (concurrent edits of one client queue up); false: no such client. */
  private async lock(tx: Executor, clientId: string): Promise<boolean> {
    return (await tx.rows(`SELECT 1 FROM ${this.t.clients} WHERE client_id = $1 FOR NO KEY UPDATE`, [clientId])).length > 0;
  }

  /**
   * Ids of the named groups, each locked against deletion until commit (FOR KEY SHARE, as the foreign
   * key check would): a group deleted meanwhile is simply not found. The first unknown name, in order.
   */
  private async groupIds(tx: Executor, names: string[]): Promise<{ ids: number[] } | { unknownGroup: string }> {
    if (names.length === 0) return { ids: [] };
    const rows = await tx.rows<{ id: number; name: string }>(`SELECT id, name FROM ${this.t.groups} WHERE name = ANY($1::text[]) FOR KEY SHARE`, [names]);
    const byName = new Map(rows.map((row) => [row.name, row.id]));
    const unknownGroup = names.find((name) => !byName.has(name));
    return unknownGroup === undefined ? { ids: rows.map((row) => row.id) } : { unknownGroup };
  }

  private async addMemberships(tx: Executor, clientId: string, groupIds: number[]): Promise<void> {
    if (groupIds.length === 0) return;
    await tx.run(`INSERT INTO ${this.t.client_groups} (client_id, group_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`, [clientId, groupIds]);
  }

  private async insertSecret(tx: Executor, clientId: string, secretHash: string, now: number): Promise<void> {
    await tx.run(`INSERT INTO ${this.t.client_secrets} (client_id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, NULL)`, [
      clientId,
      secretHash,
      now,
    ]);
  }

  private async touch(tx: Executor, clientId: string, now: number): Promise<void> {
    await tx.run(`UPDATE ${this.t.clients} SET updated_at = $2 WHERE client_id = $1`, [clientId, now]);
  }
}

/** A json column's parameter: node-postgres would send a plain object as JSON anyway, but an array as a PostgreSQL array. */
const jsonParam = (value: object | null): string | null => (value === null ? null : JSON.stringify(value));
