import { RegistryUnavailableError } from '../errors';
import type { RegistryStorage } from '../registry/storage';
import type { RegistryFailure, RegistryTelemetry } from './telemetry';

type Report = RegistryTelemetry['registryError'];

const failureOf = (err: unknown): RegistryFailure => (err instanceof RegistryUnavailableError ? 'unavailable' : 'fault');

/** Calls `call`, reporting a failure (thrown, or a rejected promise) under `operation`; the result is unchanged. */
function watched(operation: string, call: () => unknown, report: Report): unknown {
  let result: unknown;
  try {
    result = call();
  } catch (err) {
    report(operation, failureOf(err));
    throw err;
  }
  if (!(result instanceof Promise)) return result;
  return result.catch((err: unknown) => {
    report(operation, failureOf(err));
    throw err;
  });
}

/** `area` (groups, clients, ...) with every method call watched; each wrapped method is made once. */
function watchedArea<T extends object>(area: string, target: T, report: Report): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      let method = wrapped.get(property);
      if (method === undefined) {
        const operation = `${area}.${String(property)}`;
        method = (...args: unknown[]) => watched(operation, () => (value as (...a: unknown[]) => unknown).apply(object, args), report);
        wrapped.set(property, method);
      }
      return method;
    },
  });
}

/**
 * The storage with its failures counted by operation (ccgate_registry_errors_total). The change feed
 * is passed through untouched: its current() is asked on every guarded request, and stays a plain call.
 */
export function watchedStorage(storage: RegistryStorage, telemetry: RegistryTelemetry): RegistryStorage {
  const report: Report = (operation, kind) => telemetry.registryError(operation, kind);
  return {
    groups: watchedArea('groups', storage.groups, report),
    clients: watchedArea('clients', storage.clients, report),
    resources: watchedArea('resources', storage.resources, report),
    keys: watchedArea('keys', storage.keys, report),
    revocations: watchedArea('revocations', storage.revocations, report),
    replay: watchedArea('replay', storage.replay, report),
    changes: storage.changes,
    limiter: (options) => storage.limiter(options),
    open: () => watched('open', () => storage.open(), report) as Promise<void>,
    ping: () => watched('ping', () => storage.ping(), report) as Promise<void>,
    prune: (before) => watched('prune', () => storage.prune(before), report) as ReturnType<RegistryStorage['prune']>,
    close: () => storage.close(),
  };
}
