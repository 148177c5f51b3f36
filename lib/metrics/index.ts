// The operator's view: telemetry interfaces (no Prometheus), the prom-client implementation, /metrics and health routes.
export * from './telemetry';
export { PromTelemetry, OTHER_CLIENT, type ObservedKey, type ObservedSources, type PromTelemetryOptions } from './prometheus';
export { countAuditEvents } from './audit';
export { watchedStorage } from './storage';
export { timeRequests } from './latency';
export { createMetricsRouter } from './metrics-router';
export { createHealthRouter, type HealthOptions, type HealthSources, type NotReadyReason } from './health-router';
export type { GuardOutcome } from './guard-outcomes';
