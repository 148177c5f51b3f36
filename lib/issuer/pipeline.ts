import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Runs `steps` one after the other as a single Express handler, as if each were a layer of its own:
 * a step passes on with next(), stops the request with next(err) (handed to the router's error
 * handlers), or answers. A step that throws, or returns a promise that rejects, is a next(err), as
 * in Express 5. One layer instead of one per step: Express matches the path (and, for router.use,
 * rewrites req.url) once, not per step, which on the token endpoint cost more than most steps do.
 */
export function pipeline(...steps: RequestHandler[]): RequestHandler {
  if (steps.length === 1) return steps[0];
  return (req: Request, res: Response, done: NextFunction) => {
    let index = 0;
    const next = (err?: unknown): void => {
      // Express's rule: any truthy value but 'route'/'router' is an error; the steps never skip routes.
      if (err) return done(err);
      const step = steps[index++];
      if (step === undefined) return done();
      try {
        const returned: unknown = step(req, res, next);
        if (returned instanceof Promise) returned.catch((rejection: unknown) => done(rejection ?? new Error('a step rejected without a reason')));
      } catch (thrown) {
        done(thrown);
      }
    };
    next();
  };
}
