import { setBounded } from '../bounded-map';
import type { ClientCredentials } from '../registry';
import { RemoteKeySet, type RemoteKeySetPolicy } from '../remote/key-set';
import { StaticKeySet, type ClientJwks, type ClientKeys } from '../tokens';

/** Distinct jwks_uri key sets held at once (the oldest goes first). */
const MAX_REMOTE_SETS = 1000;

/**
 * The public keys of private_key_jwt clients: an inline set is parsed once per registry row (the
 * registry hands out the same row object until it changes); a jwks_uri is one RemoteKeySet per URL,
 * kept across requests, so its cache and its refetch cooldown hold against a flood of assertions.
 */
export class ClientKeySets {
  private readonly inline = new WeakMap<ClientJwks, StaticKeySet>();
  private readonly remote = new Map<string, RemoteKeySet>();

  constructor(private readonly policy: RemoteKeySetPolicy) {}

  keysOf(client: ClientCredentials): ClientKeys {
    if (client.jwks !== null) {
      let keys = this.inline.get(client.jwks);
      if (!keys) {
        keys = new StaticKeySet(client.jwks);
        this.inline.set(client.jwks, keys);
      }
      return keys;
    }
    if (client.jwksUri === null) return new StaticKeySet({ keys: [] });
    let keys = this.remote.get(client.jwksUri);
    if (!keys) {
      keys = new RemoteKeySet(client.jwksUri, this.policy);
      setBounded(this.remote, client.jwksUri, keys, MAX_REMOTE_SETS);
    }
    return keys;
  }
}
