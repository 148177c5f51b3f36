/** Audit events as a test sees them. */
import type { AuditEvent, Ccgate } from '../../lib';

/** Records every audit event of an instance. */
export class EventLog {
  readonly events: AuditEvent[] = [];
  private readonly listener = (e: AuditEvent): void => void this.events.push(e);
  constructor(private readonly auth: Ccgate) {
    auth.events.on('*', this.listener);
  }
  ofType<T extends AuditEvent['type']>(type: T): Extract<AuditEvent, { type: T }>[] {
    return this.events.filter((e) => e.type === type) as Extract<AuditEvent, { type: T }>[];
  }
  clear(): void {
    this.events.length = 0;
  }
  stop(): void {
    this.auth.events.off('*', this.listener);
  }
}
