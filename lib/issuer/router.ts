import { Router } from 'express';
import type { RegistryStore } from '../registry';
import type { Keyring, SigningAlgorithm } from '../tokens';
import { clientAuthentication } from './client-auth';
import { formBody, methodNotAllowed, noStore, oauthErrorHandler, type ErrorHandlerOptions } from './http';
import type { SecretVerifier } from './secret-verifier';
import { checkGrantType, issueToken } from './token-endpoint';
import { TokenSigner } from './token-signer';

export interface IssuerConfig extends ErrorHandlerOptions {
  store: RegistryStore;
  keyring: Keyring;
  secretVerifier: SecretVerifier;
  issuer: string;
  audience: string | string[];
  algorithm: SigningAlgorithm;
  tokenLifetime: number;
  realm: string;
  maxBodyBytes: number;
}

/** The issuer's Express router: mount it anywhere, e.g. app.use('/oauth', tokenRouter()). */
export function createTokenRouter(config: IssuerConfig): Router {
  const router = Router();
  const signer = new TokenSigner(config);
  const authenticate = clientAuthentication({ store: config.store, verifier: config.secretVerifier, realm: config.realm });

  router.use('/token', noStore);
  router.post('/token', formBody(config.maxBodyBytes), checkGrantType, authenticate, issueToken({ signer, tokenLifetime: config.tokenLifetime }));
  router.all('/token', methodNotAllowed('POST'));
  router.use(oauthErrorHandler(config));
  return router;
}
