// HTTP transport of the backup controller: requests in, zone results in, tracking and backups out.

import type { Context } from 'koa';
import { BadRequest } from '../../errors.js';
import { checkName, limitParam, nextPage, optionalName, queryParam, readJson } from '../params.js';
import { REQUEST_CHART, REQUEST_STATES, type BackupController, type Reception } from '../../backup/controller/controller.js';
import { READ, type GuardedRoutes } from '../guard.js';
import { checkResult } from '../../backup/zone.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** Backups the controller's status lists, newest first. */
const LATEST_BACKUPS = 5;

/** Mounts the routes on chartd's router; only done when --backup-config is given. */
export function backupRoutes(controller: BackupController): (routes: GuardedRoutes) => void {
  return (routes) => {
    // The controller's own door to its chart: a write to backup-request, which the generic routes refuse.
    routes.post('/backup-requests', { scope: 'write', chart: REQUEST_CHART }, async (ctx) => {
      const key = ctx.get('idempotency-key') || undefined;
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw new BadRequest('the Idempotency-Key header must be 1-255 visible ASCII characters, e.g. a UUID');
      const reception = await controller.receive(await readJson(ctx), { transport: 'http', ...(key !== undefined ? { idempotencyKey: key } : {}) });
      answer(ctx, reception);
    });

    routes.get('/backup-requests', READ, async (ctx) => {
      const state = queryParam(ctx, 'state');
      if (state !== undefined && !(REQUEST_STATES as readonly string[]).includes(state)) {
        throw new BadRequest(`query parameter state must be one of ${REQUEST_STATES.join(', ')}`);
      }
      const jobId = queryParam(ctx, 'jobId');
      const limit = limitParam(ctx);
      const after = optionalName(ctx, 'after');
      const page = await controller.requestsPage({ ...(state ? { state } : {}), ...(jobId ? { backupJobId: checkName(jobId, 'jobId') } : {}) }, { limit, ...(after ? { after } : {}) });
      ctx.body = { requests: page.requests, next: page.next === undefined ? null : nextPage(ctx, '/backup-requests', ['state', 'jobId'], page.next, limit) };
    });

    routes.get('/backup-requests/:id', READ, async (ctx) => {
      const view = await controller.request(checkName(ctx.params['id']!, 'request id'));
      ctx.set('x-request-id', view.id);
      ctx.body = view;
    });

    routes.get('/backups', READ, async (ctx) => {
      const jobId = queryParam(ctx, 'jobId');
      const limit = limitParam(ctx);
      const after = optionalName(ctx, 'after');
      const page = await controller.backupsPage(jobId ? { backupJobId: checkName(jobId, 'jobId') } : {}, { limit, ...(after ? { after } : {}) });
      ctx.body = { backups: page.backups, next: page.next === undefined ? null : nextPage(ctx, '/backups', ['jobId'], page.next, limit) };
    });

    // The durable inbox: 202 only once the result is stored, so a zone may then forget it. The token is checked before the body is read.
    routes.post('/zone-results', { scope: 'results' }, async (ctx) => {
      const result = checkResult(await readJson(ctx));
      await controller.inbox.accept(result);
      ctx.status = 202;
      ctx.set('x-request-id', result.requestId);
      ctx.body = { requestId: result.requestId, received: true };
    });

    routes.get('/backup-controller', READ, async (ctx) => {
      ctx.set('cache-control', 'no-store');
      ctx.body = { ...(await controller.status()), latestBackups: (await controller.listBackups()).slice(-LATEST_BACKUPS).reverse() };
    });
  };
}

/** allowed 202, not allowed 406 (kept, final), job service down 503 + Retry-After (re-checked in the background). */
function answer(ctx: Context, reception: Reception): void {
  const { request } = reception;
  ctx.set('x-request-id', request.id);
  ctx.set('location', `/backup-requests/${request.id}`);
  ctx.set('cache-control', 'no-store');
  switch (reception.outcome) {
    case 'allowed':
      ctx.status = 202;
      ctx.body = request;
      return;
    case 'not_allowed':
      ctx.status = 406;
      ctx.body = { error: { code: 'not_allowed', message: reception.reason }, request };
      return;
    case 'unavailable':
    case 'checking':
      ctx.status = 503;
      ctx.set('retry-after', String(reception.retryAfterSeconds ?? 5));
      ctx.body = {
        error: {
          code: reception.outcome === 'unavailable' ? 'job_service_unavailable' : 'check_pending',
          message: `${reception.reason}; the request is kept and checked again in the background — retry with the same Idempotency-Key to see how it went`,
        },
        request,
      };
  }
}
