// The error middleware: what a thrown error answers, and which answers the server log calls a fault.
import { Writable } from 'node:stream';
import Koa from 'koa';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ClientGone, ShuttingDown } from '../../src/errors.js';
import { errorAnswer, errorMiddleware } from '../../src/http/errors.js';
import { StoreError, StoreUnavailable } from '../../src/store/store.js';

function appThrowing(error: Error, storeLogIntervalMs?: number, level = 'info'): { app: Koa; logged: string[] } {
  const logged: string[] = [];
  const log = pino({ level }, new Writable({ write: (chunk, _encoding, done) => { logged.push(String(chunk)); done(); } }));
  const app = new Koa();
  app.use(errorMiddleware(log, errorAnswer(log, storeLogIntervalMs)));
  app.use(() => {
    throw error;
  });
  return { app, logged };
}

describe('error answers', () => {
  it('answers shutdown with 503 and Retry-After, and does not log it as a server fault', async () => {
    const { app, logged } = appThrowing(new ShuttingDown('chartd is stopping; ask again in a moment'));
    const answer = await request(app.callback()).get('/state?state=x&wait=30s').expect(503);
    expect(answer.headers['retry-after']).toBe('2');
    expect(answer.body).toEqual({ error: { code: 'shutting_down', message: 'chartd is stopping; ask again in a moment' } });
    expect(logged).toEqual([]);
  });

  it('logs an unexpected error once, and answers 500 without its message', async () => {
    const { app, logged } = appThrowing(new Error('secret detail'));
    const answer = await request(app.callback()).get('/anything').expect(500);
    expect(answer.body.error.code).toBe('internal');
    expect(JSON.stringify(answer.body)).not.toContain('secret detail');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('request failed with a server fault');
  });

  it('answers a change the store could not make durable with 503, Retry-After and no file names, and logs it once', async () => {
    const { app, logged } = appThrowing(new StoreError('could not make 1 commit(s) durable in /var/lib/chartd/journal/00000001.log (ENOSPC); none of them was applied', '/var/lib/chartd/journal/00000001.log'));
    const answer = await request(app.callback()).put('/state?state=x').expect(503);
    expect(answer.headers['retry-after']).toBe('10');
    expect(answer.body.error.code).toBe('store_unavailable');
    expect(answer.body.error.message).toMatch(/not applied.*ask again/);
    expect(JSON.stringify(answer.body)).not.toContain('/var/lib/chartd');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('ENOSPC');
  });

  it('answers a database that is away with 503 and its own Retry-After, saying whether the change may have landed', async () => {
    const away = await request(appThrowing(new StoreUnavailable('PostgreSQL at db.internal:5432 did not answer within 3 s', 2)).app.callback()).put('/state?state=x').expect(503);
    expect(away.headers['retry-after']).toBe('2');
    expect(away.body.error.code).toBe('store_unavailable');
    expect(away.body.error.message).toMatch(/^the change was not applied: the store is not reachable/);
    expect(JSON.stringify(away.body)).not.toContain('db.internal');
    const doubt = await request(appThrowing(new StoreUnavailable('the COMMIT was sent and its answer lost', 2, { inDoubt: true })).app.callback()).put('/state?state=x').expect(503);
    expect(doubt.body.error.message).toMatch(/may or may not have been applied; read it back/);
  });

  it('logs a flood of store refusals once per interval, with how many it held back', async () => {
    const { app, logged } = appThrowing(new StoreError('could not make 1 commit(s) durable (ENOSPC); none of them was applied'), 300);
    const server = request(app.callback());
    for (let n = 0; n < 5; n++) await server.put('/state?state=x').expect(503);
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0]!)).toMatchObject({ refusedSinceLastLog: 0 });
    await new Promise((resolve) => setTimeout(resolve, 350));
    await server.put('/state?state=x').expect(503);
    expect(logged).toHaveLength(2);
    expect(JSON.parse(logged[1]!)).toMatchObject({ refusedSinceLastLog: 4, msg: expect.stringContaining('could not be made durable') });
  });

  it('logs a client that went away mid-request at debug level, not as a server fault', async () => {
    const { app, logged } = appThrowing(new ClientGone('the request body broke off after 100 bytes: aborted'), undefined, 'debug');
    await request(app.callback()).post('/charts/x/instances').expect(400);
    expect(logged.map((line) => JSON.parse(line))).toEqual([expect.objectContaining({
      level: 20, msg: 'the client went away mid-request', method: 'POST', reason: 'the request body broke off after 100 bytes: aborted',
    })]);
  });
});
