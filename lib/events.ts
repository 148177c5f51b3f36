import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { DpopRejectionReason, RejectionReason } from './errors';

/**
 * Audit events: a stable, typed schema. Events never carry a secret or a whole token (a token is
 * named by its jti). `requestId` ties an event to its HTTP request (X-Request-Id, or generated).
 */
interface Base {
  /** ISO 8601 time of the event. */
  time: string;
  requestId?: string;
}

export type AuditEvent = Base &
  /** `jkt`: the token is DPoP-bound to the key of this RFC 7638 thumbprint (RFC 9449 §6.1). */
  (
    | { type: 'token.issued'; clientId: string; scope: string; jti: string; expiresAt: number; jkt?: string; address?: string }
    | {
        type: 'client.auth_failed';
        clientId: string | null;
        method: string;
        reason: 'invalid_credentials' | 'malformed' | 'missing';
        /** Why, where known: an assertion's rejection reason (expired, replayed, wrong_audience, ...), wrong_method, client_unknown. */
        detail?: string;
        address?: string;
      }
    | { type: 'client.throttled'; clientId: string | null; retryAfter: number; address?: string }
    | { type: 'scope.denied'; clientId: string; requested: string; where: 'token_endpoint' | 'guard' }
    | { type: 'token.rejected'; reason: RejectionReason; where: 'guard' }
    /** The guard answered 503: the issuer (remote guard: unreachable, bad_answer, credentials_refused) or the registry could not be used. */
    | { type: 'dependency.unavailable'; dependency: 'issuer' | 'registry'; reason: string; where: 'guard' }
    | { type: 'token.introspected'; callerId: string; active: boolean; jti?: string }
    | { type: 'token.revoked'; clientId: string | null; jti: string; via: 'revocation_endpoint' | 'registry' }
    | { type: 'secret.rotated'; clientId: string; overlapSeconds: number }
    | { type: 'key.created'; kid: string; alg: string }
    | { type: 'key.rotated'; kid: string; alg: string; activatesAt: number }
    | { type: 'key.removed'; kids: string[] }
    /** A key deleted at once (a leak): `status` is what it was then (pending, active or retired). */
    | { type: 'key.revoked'; kid: string; alg: string; status: string }
    /** `ccgate key rewrap` / rewrapKeys(): these keys are now encrypted under the key secret `keySecretId`. */
    | { type: 'key.rewrapped'; keySecretId: string; kids: string[] }
    | { type: 'group.created'; name: string; scopes: string[] }
    | { type: 'group.updated'; name: string; scopes: string[] }
    | { type: 'group.deleted'; name: string }
    | { type: 'client.created'; clientId: string; name: string; groups: string[] }
    | { type: 'client.updated'; clientId: string; enabled: boolean; groups: string[] }
    | { type: 'client.deleted'; clientId: string }
    /** A private_key_jwt client's keys replaced: the kids of an inline set, or its jwks_uri. */
    | { type: 'client.keys_changed'; clientId: string; kids: string[]; jwksUri: string | null }
    /** Whether the client's token requests must carry a DPoP proof (RFC 9449 §5.2). */
    | { type: 'client.dpop_changed'; clientId: string; dpop: 'allowed' | 'required' }
    /**
     * A token request's DPoP proof was refused (RFC 9449 §4.3): the proof check's reason, `several`
     * (more than one DPoP header) or `missing` (a client that must send one sent none). `clientId`
     * is null when the proof was refused before client authentication.
     */
    | { type: 'dpop.proof_rejected'; reason: DpopRejectionReason | 'several' | 'missing'; clientId: string | null; where: 'token_endpoint'; address?: string }
    | { type: 'resource.created'; uri: string; scopes: string[] }
    | { type: 'resource.updated'; uri: string; scopes: string[] }
    | { type: 'resource.deleted'; uri: string }
  );

export type AuditEventType = AuditEvent['type'];
export type AuditEventOf<T extends AuditEventType> = Extract<AuditEvent, { type: T }>;
/** What callers pass to emit: the event without its time. */
export type AuditEventInput = AuditEvent extends infer E ? (E extends AuditEvent ? Omit<E, 'time'> : never) : never;

/**
 * A typed emitter. Subscribe to one type, or to '*' for all (e.g. to log JSON lines).
 * A listener that throws never breaks the request that emitted the event.
 */
export class AuditEvents {
  private readonly emitter = new EventEmitter();

  on<T extends AuditEventType>(type: T, listener: (event: AuditEventOf<T>) => void): this;
  on(type: '*', listener: (event: AuditEvent) => void): this;
  on(type: string, listener: (event: AuditEvent) => void): this {
    this.emitter.on(type, listener);
    return this;
  }

  off(type: AuditEventType | '*', listener: (event: AuditEvent) => void): this {
    this.emitter.off(type, listener);
    return this;
  }

  emit(input: AuditEventInput): void {
    if (this.emitter.listenerCount(input.type) === 0 && this.emitter.listenerCount('*') === 0) return;
    const event: AuditEvent = { time: new Date().toISOString(), ...input };
    for (const listener of [...this.emitter.listeners(input.type), ...this.emitter.listeners('*')]) {
      try {
        (listener as (e: AuditEvent) => void)(event);
      } catch {
        // An audit sink failing must not fail the request.
      }
    }
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The caller's X-Request-Id when it is a sane token, else a fresh one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}
