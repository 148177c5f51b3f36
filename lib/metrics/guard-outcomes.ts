import type { RejectionReason } from '../errors';
import type { GuardRefusal } from './telemetry';

/** The `outcome` label of a guard decision: what the caller was answered. */
export type GuardOutcome = 'accepted' | 'rejected' | 'forbidden' | 'unavailable' | 'error';

/** Every TokenRejected reason (a rejected token, 401 invalid_token); `satisfies` fails the build when one is added and not listed. */
const TOKEN_REJECTIONS = Object.keys({
  malformed: true,
  too_long: true,
  unsupported_algorithm: true,
  wrong_type: true,
  unsupported_extension: true,
  unknown_key: true,
  bad_signature: true,
  expired: true,
  not_yet_valid: true,
  wrong_issuer: true,
  wrong_audience: true,
  revoked: true,
  client_disabled: true,
  client_unknown: true,
  inactive: true,
  lifetime_too_long: true,
} satisfies Record<RejectionReason, true>) as RejectionReason[];

/** Each refusal reason with its outcome: 400/401 rejected, 403 forbidden, 503 unavailable, 500 error. */
export const GUARD_REFUSALS: ReadonlyArray<readonly [GuardRefusal, GuardOutcome]> = [
  ['missing_token', 'rejected'],
  ['invalid_request', 'rejected'],
  ...TOKEN_REJECTIONS.map((reason) => [reason, 'rejected'] as const),
  ['invalid_dpop_proof', 'rejected'],
  ['use_dpop_nonce', 'rejected'],
  ['dpop_binding', 'rejected'],
  ['insufficient_scope', 'forbidden'],
  ['issuer_unavailable', 'unavailable'],
  ['registry_unavailable', 'unavailable'],
  ['server_error', 'error'],
];
