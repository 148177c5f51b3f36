import { AccessTokenVerifier, verifyingValidator } from '../tokens';
import { createGuard, type Guard } from './guard';
import { resolveRemoteGuardOptions, type RemoteGuardOptions } from './options';
import { IntrospectionValidator } from './remote-introspection';
import { RemoteJwks } from './remote-jwks';

/**
 * A guard for an API service that knows only the issuer's URL: the same authenticate /
 * requireScope / requireAnyScope as the local guard, validating through the shared core.
 */
export function remoteGuard(options: RemoteGuardOptions): Guard {
  const resolved = resolveRemoteGuardOptions(options);
  const validator =
    resolved.mode === 'introspection'
      ? new IntrospectionValidator(resolved.introspection)
      : verifyingValidator(new AccessTokenVerifier(new RemoteJwks(resolved.keys), resolved.verifier));
  return createGuard(
    validator,
    {
      realm: options.realm,
      errors: options.errors,
      events: options.events,
      dpop: options.dpop,
      protectedResource: options.protectedResource,
    },
    options.issuer,
  );
}
