// Bearer tokens: compared in constant time, and a request without the right one never reaches the handler.

import Koa from 'koa';
import Router from '@koa/router';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/backup/secret.js';
import { bearerToken, requireBearer } from '../../src/http/bearer.js';
import { errorMiddleware } from '../../src/http/errors.js';
import { createLogger } from '../../src/log.js';

const TOKEN = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5';

describe('Secret', () => {
  it('matches only the same token, whatever the lengths', () => {
    const secret = new Secret(TOKEN, 'test');
    expect(secret.matches(TOKEN)).toBe(true);
    for (const other of ['', 'a', TOKEN.slice(0, -1), `${TOKEN}0`, TOKEN.toUpperCase()]) expect(secret.matches(other), other).toBe(false);
  });

  it('reads the token of an Authorization header', () => {
    expect(bearerToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`bearer   ${TOKEN} `)).toBe(TOKEN);
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', `Bearer ${TOKEN} extra`]) expect(bearerToken(header), header).toBeUndefined();
  });
});

describe('requireBearer', () => {
  const reached: string[] = [];
  const app = new Koa();
  app.use(errorMiddleware(createLogger('silent')));
  const router = new Router();
  router.post('/inbox', requireBearer(new Secret(TOKEN, 'test'), 'test inbox'), (ctx) => {
    reached.push(ctx.get('authorization'));
    ctx.status = 202;
  });
  app.use(router.routes());

  it('answers 401 with a Bearer challenge and never runs the handler without the right token', async () => {
    for (const header of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`]) {
      const answer = await (header ? request(app.callback()).post('/inbox').set('authorization', header) : request(app.callback()).post('/inbox')).send({ stored: 'no' });
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Bearer realm="test inbox"');
      expect(answer.body.error.code).toBe('unauthorized');
    }
    expect(reached).toEqual([]);
    const ok = await request(app.callback()).post('/inbox').set('authorization', `Bearer ${TOKEN}`).send({});
    expect(ok.status).toBe(202);
    expect(reached).toHaveLength(1);
  });
});
