import type { AuditEvents } from '../events';
import type { Telemetry } from './telemetry';

/**
 * Counts what the audit events already say: tokens issued (by the router's algorithm, and by
 * client), failed client authentications by reason, throttled answers. These paths emit an event
 * anyway, so counting here needs no hook in the issuer.
 */
export function countAuditEvents(events: AuditEvents, telemetry: Telemetry, algorithm: string): void {
  events.on('token.issued', (e) => telemetry.tokenIssued(algorithm, e.clientId));
  events.on('client.auth_failed', (e) => telemetry.clientAuthFailed(e.reason));
  events.on('client.throttled', () => telemetry.throttled());
}
