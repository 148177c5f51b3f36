import { DatabaseError } from 'pg';
import { RegistryUnavailableError } from '../../../lib/errors';
import { isUnavailable, storageError } from '../../../lib/registry/postgres/errors';

/** An error as node-postgres reports one from the server. */
const serverError = (code: string, message = `server said ${code}`): DatabaseError => Object.assign(new DatabaseError(message, 0, 'error'), { code });
const socketError = (code: string): Error => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });

describe('which PostgreSQL errors mean "unavailable" (answered 503)', () => {
  test.each([
    ['admin_shutdown', serverError('57P01')],
    ['crash_shutdown', serverError('57P02')],
    ['cannot_connect_now (starting up)', serverError('57P03')],
    ['too_many_connections', serverError('53300')],
    ['connection_failure (class 08)', serverError('08006')],
    ['statement_timeout', serverError('57014')],
    ['refused', socketError('ECONNREFUSED')],
    ['reset', socketError('ECONNRESET')],
    ['timed out', socketError('ETIMEDOUT')],
    ['broken pipe', socketError('EPIPE')],
    ['every address refused (happy eyeballs)', new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')])],
    ['connection terminated', new Error('Connection terminated unexpectedly')],
    ['pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['wrapped connect timeout', new Error('Connection terminated due to connection timeout', { cause: new Error('timeout expired') })],
    ['query timeout', new Error('Query read timeout')],
  ])('%s', (_, err) => {
    expect(isUnavailable(err)).toBe(true);
    const mapped = storageError(err);
    expect(mapped).toBeInstanceOf(RegistryUnavailableError);
    expect(mapped.message).toMatch(/^the registry database is unavailable: ./);
    expect(mapped.cause).toBe(err);
  });

  test.each([
    ['unique_violation', serverError('23505')],
    ['check_violation', serverError('23514')],
    ['invalid_password (a configuration error, not an outage)', serverError('28P01')],
    ['database does not exist', serverError('3D000')],
    ['syntax error', serverError('42601')],
    ['a plain bug', new TypeError('x is undefined')],
  ])('%s propagates as it is', (_, err) => {
    expect(isUnavailable(err)).toBe(false);
    expect(storageError(err)).toBe(err);
  });
});
