/** lib/issuer/pipeline: several steps as one Express handler, with Express's own next/error rules. */
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import request from 'supertest';
import { pipeline } from '../../lib/issuer/pipeline';

/** An app running `steps` as one pipeline at GET /, answering what it saw: the steps that ran, the error that stopped them. */
function appOf(...steps: RequestHandler[]): express.Express {
  const app = express();
  app.get('/', (_req, res, next) => {
    res.locals.ran = [] as string[];
    next();
  });
  app.get('/', pipeline(...steps), (_req, res) => {
    res.json({ ran: res.locals.ran as string[], reached: 'after' });
  });
  const onError: ErrorRequestHandler = (err: Error, _req, res, _next) => {
    res.status(500).json({ ran: res.locals.ran as string[], error: err.message });
  };
  app.use(onError);
  return app;
}

const step =
  (name: string): RequestHandler =>
  (_req, res, next) => {
    (res.locals.ran as string[]).push(name);
    next();
  };

test('steps run in order, then the next handler after the pipeline', async () => {
  const res = await request(appOf(step('a'), step('b'), step('c'))).get('/');
  expect(res.body).toEqual({ ran: ['a', 'b', 'c'], reached: 'after' });
});

test('a step that passes on after an asynchronous hop continues the pipeline', async () => {
  const later: RequestHandler = (_req, res, next) => {
    setImmediate(() => {
      (res.locals.ran as string[]).push('later');
      next();
    });
  };
  const res = await request(appOf(step('a'), later, step('b'))).get('/');
  expect(res.body).toEqual({ ran: ['a', 'later', 'b'], reached: 'after' });
});

test('next(err) stops the pipeline and goes to the error handlers', async () => {
  const fail: RequestHandler = (_req, _res, next) => next(new Error('refused'));
  const res = await request(appOf(step('a'), fail, step('b'))).get('/');
  expect(res.status).toBe(500);
  expect(res.body).toEqual({ ran: ['a'], error: 'refused' });
});

test('a step that throws is next(err), as in Express 5', async () => {
  const thrower: RequestHandler = () => {
    throw new Error('thrown');
  };
  const res = await request(appOf(step('a'), thrower, step('b'))).get('/');
  expect(res.body).toEqual({ ran: ['a'], error: 'thrown' });
});

test('a step whose promise rejects is next(err), as in Express 5', async () => {
  const rejects: RequestHandler = async () => {
    await Promise.resolve();
    throw new Error('rejected');
  };
  const res = await request(appOf(step('a'), rejects, step('b'))).get('/');
  expect(res.body).toEqual({ ran: ['a'], error: 'rejected' });
});

test('a step that answers ends the request: later steps do not run', async () => {
  const answer: RequestHandler = (_req, res) => {
    res.json({ ran: [...(res.locals.ran as string[]), 'answered'] });
  };
  const res = await request(appOf(step('a'), answer, step('b'))).get('/');
  expect(res.body).toEqual({ ran: ['a', 'answered'] });
});

test('one step is that step itself', () => {
  const only = step('only');
  expect(pipeline(only)).toBe(only);
});
