import { Option, type Command } from 'commander';
import { MAX_TOKEN_TTL_SECONDS } from '../../registry';
import { examples, integerArg } from '../args';
import { withRegistry } from '../context';
import { usageError } from '../../errors';
import { formatTime, printLine } from '../output';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** A bare token id: visible ASCII, no dot (a dotted argument is a JWT or a mistake); its length is the registry's rule. */
const JTI_SHAPE = /^[\x21-\x2d\x2f-\x7e]+$/;

interface TokenRef {
  jti: string;
  clientId: string | null;
  exp: number | null;
}

/**
 * A JWT (three base64url parts) is decoded WITHOUT verifying its signature: revoking is safe whatever
 * the token says, and this lets an operator revoke a token copied from a log. A bare jti is taken as
 * it is; anything that is neither (a truncated JWT, text with spaces) is refused, not recorded.
 */
function tokenRef(arg: string): TokenRef {
  if (!JWT_SHAPE.test(arg)) {
    if (!JTI_SHAPE.test(arg)) throw usageError('the argument is neither a JWT nor a token id (jti): nothing was revoked');
    return { jti: arg, clientId: null, exp: null };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(arg.split('.')[1], 'base64url').toString('utf8'));
  } catch {
    throw usageError('the argument looks like a JWT but its payload is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw usageError('the argument looks like a JWT but its payload is not a JSON object');
  }
  const claims = payload as Record<string, unknown>;
  if (typeof claims.jti !== 'string' || claims.jti === '') throw usageError('the JWT has no "jti" claim, so it cannot be revoked');
  return {
    jti: claims.jti,
    clientId: typeof claims.client_id === 'string' ? claims.client_id : null,
    exp: Number.isInteger(claims.exp) ? (claims.exp as number) : null,
  };
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('revoke access tokens and prune old revocations');

  token
    .command('revoke')
    .description('revoke an access token, given as its jti or as the whole JWT')
    .argument('<jti-or-jwt>', "the token's jti claim, or the access token itself (decoded, not verified)")
    .option('--client <id>', "client_id the token was issued to (default: the JWT's client_id claim)")
    .addOption(
      new Option('--expires-at <unix>', `when the token expires, in Unix seconds (default: the JWT's exp, else now + ${MAX_TOKEN_TTL_SECONDS}s)`).argParser(
        integerArg,
      ),
    )
    .addHelpText(
      'after',
      `\nThe revocation is kept until the token expires; no token lives longer than ${MAX_TOKEN_TTL_SECONDS}s, so that is\n` +
        'the default for a bare jti. Resource servers see the revocation at their next request.\n' +
        examples('ccgate token revoke eyJhbGciOi...', 'ccgate token revoke 3q2-7wQyZ1s0aXbL --client <client_id>'),
    )
    .action((arg: string, opts: { client?: string; expiresAt?: number }, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const ref = tokenRef(arg);
        const now = Math.floor(Date.now() / 1000);
        const revocation = { jti: ref.jti, clientId: opts.client ?? ref.clientId, expiresAt: opts.expiresAt ?? ref.exp ?? now + MAX_TOKEN_TTL_SECONDS };
        await registry.revokeToken(revocation);
        out.emit({ jti: revocation.jti, client_id: revocation.clientId, expires_at: revocation.expiresAt }, () => {
          printLine(`Revoked token ${revocation.jti}${revocation.clientId ? ` of client ${revocation.clientId}` : ''}.`);
          printLine(
            revocation.expiresAt <= now
              ? `The token already expired at ${formatTime(revocation.expiresAt)}; the next prune drops this revocation.`
              : `The revocation is kept until ${formatTime(revocation.expiresAt)}.`,
          );
        });
      }),
    );

  token
    .command('prune')
    .description('drop revocations of tokens that have expired anyway')
    .action((_opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const removed = await registry.pruneRevocations();
        out.emit({ removed }, () => printLine(`Removed ${removed} expired revocation(s).`));
      }),
    );
}
