// The backup controller's routes on `chartd serve --backup-config FILE`, and the zone's on `chartd zone`.

import { json, object, operation, problem, schema, string, type Json } from './build.js';

const CONTROLLER = '--backup-config FILE';
const RECEIVED = ['X-Request-Id', 'Location'];

export const BACKUP_PATHS: Record<string, Json> = {
  '/backup-requests': {
    post: operation({
      id: 'requestBackup', tag: 'backup controller', scope: 'write', requires: CONTROLLER,
      guard: 'write on backup-request (the controller\'s own door to the chart the generic routes refuse)',
      summary: 'Ask for a backup: the allow check against the job service runs before the answer',
      description: 'A retry with the same Idempotency-Key returns the same request, with its current outcome.',
      params: ['idempotencyKey'],
      body: { description: 'what to back up, as of which date', schema: schema('BackupRequestInput') },
      answers: {
        202: json('allowed: the request, on its way to the zone', schema('BackupRequest'), RECEIVED),
        406: json('not allowed (not_allowed: the message says why); the request is kept, final', schema('BackupRequestRefusal'), RECEIVED),
        409: problem('the Idempotency-Key was used for another request; nothing stored'),
        503: json('the job service cannot be reached (job_service_unavailable) or the check takes longer than timeouts.answer (check_pending): ' +
          'the request is kept and checked in the background; retry with the same Idempotency-Key', schema('BackupRequestRefusal'), [...RECEIVED, 'Retry-After']),
      },
    }),
    get: operation({
      id: 'listBackupRequests', tag: 'backup controller', scope: 'read', requires: CONTROLLER,
      summary: 'A page of backup requests, oldest first', params: ['requestState', 'jobId', 'limit', 'after'],
      answers: { 200: json('one page', schema('BackupRequestPage')) }, errors: [400],
    }),
  },
  '/backup-requests/{id}': {
    get: operation({
      id: 'getBackupRequest', tag: 'backup controller', scope: 'read', requires: CONTROLLER,
      summary: 'One backup request with its times, result and history', params: ['requestId'],
      answers: { 200: json('the request', schema('BackupRequest'), ['X-Request-Id']) }, errors: [400, 404],
    }),
  },
  '/backups': {
    get: operation({
      id: 'listBackups', tag: 'backup controller', scope: 'read', requires: CONTROLLER,
      summary: 'A page of the master store of backups, by data date, then when made', params: ['jobId', 'limit', 'after'],
      answers: { 200: json('one page', schema('BackupPage')) }, errors: [400],
    }),
  },
  '/zone-results': {
    post: operation({
      id: 'deliverZoneResult', tag: 'backup controller', scope: 'results', requires: CONTROLLER,
      guard: 'results: the backup config\'s results_token, or an auth-file token with the results scope; admin does not include it',
      summary: 'A zone delivers the result of a backup (zones only)',
      body: { description: 'the result', schema: schema('ZoneResult') },
      answers: { 202: json('stored durably: the zone may forget it', object({ requestId: string(), received: { type: 'boolean', const: true } }), ['X-Request-Id']) },
      errors: [404, 503],
    }),
  },
  '/backup-controller': {
    get: operation({
      id: 'getBackupController', tag: 'backup controller', scope: 'read', requires: CONTROLLER,
      summary: 'The job source and each zone with its circuit, the inbox, requests per state, the latest backups',
      answers: { 200: json('the controller\'s status', schema('ControllerStatus')) },
    }),
  },
};

const ZONE_HEALTH = object({ status: string(undefined, { const: 'ok' }), zone: string(), openOrders: { type: 'integer' }, outbox: { type: 'integer', description: 'results not yet delivered' } });

export const ZONE_PATHS: Record<string, Json> = {
  '/healthz': {
    get: operation({
      id: 'getZoneHealth', tag: 'monitoring', scope: 'none', summary: 'The zone\'s name, its open orders and undelivered results',
      description: 'Needs no token, so load balancers and monitors need none.',
      answers: { 200: json('the zone', ZONE_HEALTH) },
    }),
  },
  '/orders': {
    post: operation({
      id: 'placeOrder', tag: 'zone', scope: 'write',
      guard: 'write on backup-and-encrypt: the controller\'s token (the zone\'s --token-env/--token-file), or a token from the zone\'s --auth FILE',
      summary: 'Order a backup: it starts a backup-and-encrypt run (idempotent by requestId)',
      body: { description: 'the order', schema: schema('ZoneOrder') },
      answers: {
        202: json('taken (created: false for an order the zone already had)', schema('ZoneReceipt'), ['X-Request-Id', 'Location']),
        409: problem('an order with this requestId and other contents was received before'),
        422: problem('source.passwordEnv is not on the zone\'s allow-list; nothing stored'),
      },
      errors: [503],
    }),
  },
  '/orders/{id}': {
    get: operation({
      id: 'getOrder', tag: 'zone', scope: 'read', summary: 'One order, its backup\'s state and failures, and its result while undelivered',
      params: ['orderId'], answers: { 200: json('the order', schema('ZoneOrderView')) }, errors: [400, 404],
    }),
  },
};
