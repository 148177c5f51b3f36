import type { Response } from 'express';
import type { FormParams } from '../locals';
import type { ClientCredentials } from '../registry';

/**
 * What earlier steps of an issuer route left in res.locals. Missing means the router was assembled
 * in the wrong order: a programming error, answered as a server fault.
 */
export function formOf(res: Response): FormParams {
  const form = res.locals.form;
  if (form === undefined) throw new Error('the form body was not parsed before this step');
  return form;
}

/** The `token` parameter of introspection and revocation (required by requireTokenParam). */
export function tokenParamOf(res: Response): string {
  const token = formOf(res).token;
  if (token === undefined) throw new Error('the token parameter was not required before this step');
  return token;
}

export function clientOf(res: Response): ClientCredentials {
  const client = res.locals.client;
  if (client === undefined) throw new Error('the client was not authenticated before this step');
  return client;
}
