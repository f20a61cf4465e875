// The shapes the backup controller and the zone take and answer: requests, backups, orders, results.

import { API_VERSIONS } from '../../backup/controller/requestInput.js';
import { NAME_PATTERN } from '../params.js';
import { array, integer, object, page, schema, string, time, type Json } from './build.js';

const ID = string(undefined, { pattern: NAME_PATTERN.source });
const TEXT = string(undefined, { minLength: 1, maxLength: 1024 });
const DATE = string('YYYY-MM-DD', { format: 'date' });
const CLOSED = { additionalProperties: false };

export const BACKUP_SCHEMAS: Record<string, Json> = {
  BackupRequestInput: object({
    apiVersion: string(undefined, { enum: [...API_VERSIONS] }),
    backupJobId: ID,
    dataDate: string('the date the data is as of', { format: 'date' }),
    sourcePath: string('the database to back up when not the job\'s default; one the job lists', { minLength: 1, maxLength: 255 }),
  }, ['sourcePath'], CLOSED),

  BackupRequest: object({
    id: string(), state: string(undefined, { enum: ['Received', 'Allowed', 'NotAllowed', 'Sent', 'Succeeded', 'Failed'] }),
    final: { type: 'boolean' }, transport: string(), apiVersion: string(), backupJobId: string(), dataDate: DATE, sourcePath: string(),
    times: object({
      received: time(), checkedAllowed: time(), responded: time(), sentToZone: time(), resultReceived: time(), resultRecorded: time(),
      stateChanged: time('when the request entered its current state'),
    }, ['checkedAllowed', 'responded', 'sentToZone', 'resultReceived', 'resultRecorded', 'stateChanged']),
    zone: string(), backupId: string(), notAllowedReason: string(),
    result: object({ ok: { type: 'boolean' }, zone: string(), failures: array(string()), late: { type: 'boolean', description: 'the result came after the 24 h deadline' } }, ['late']),
    lastError: object({ at: time(), step: string(), message: string() }, [], { description: 'the latest failed attempt of a step being retried' }),
    failures: array(schema('Failure')),
    history: array(object({ at: time(), from: { oneOf: [string(), { type: 'null' }] }, to: string(), cause: string() })),
  }, ['sourcePath', 'zone', 'backupId', 'notAllowedReason', 'result', 'lastError'], { description: 'A backup request as stored, with its lifecycle.' }),

  BackupRequestPage: page('requests', schema('BackupRequest')),

  /** A refusal of POST /backup-requests carries the request it kept. */
  BackupRequestRefusal: object({ error: object({ code: string(), message: string() }), request: schema('BackupRequest') }),

  Backup: object({
    id: string(), requestId: string(), backupJobId: string(), dataDate: DATE, zone: string(), client: string(), database: string(),
    file: string('where the encrypted backup is, in the zone\'s storage'), size: integer(), sha256: string(),
    createdAt: time('when the zone finished it'), recordedAt: time(),
  }),

  BackupPage: page('backups', schema('Backup')),

  ControllerStatus: object({
    jobs: object({ source: string(), circuit: string() }),
    zones: array(object({ name: string(), url: string(), circuit: string(undefined, { enum: ['closed', 'open', 'half-open'] }) })),
    inbox: integer('results received and not yet processed'),
    requests: { type: 'object', additionalProperties: integer(), description: 'requests per state' },
    latestBackups: array(schema('Backup'), 'the newest five'),
  }),

  ZoneResult: object({
    requestId: ID, zone: string(undefined, { minLength: 1, maxLength: 128 }), ok: { type: 'boolean' },
    file: TEXT, size: integer(undefined, { minimum: 0 }), sha256: string(undefined, { pattern: '^[0-9a-f]{64}$' }),
    failures: { ...array(string(undefined, { maxLength: 4096 }), 'failure reports; may hold one even when ok (a cleanup failed)'), maxItems: 100 },
    startedAt: time(), finishedAt: time(),
  }, ['file', 'size', 'sha256'], { ...CLOSED, description: 'file, size and sha256 are required when ok' }),

  ZoneOrder: object({
    requestId: ID, apiVersion: string(undefined, { minLength: 1, maxLength: 16 }), backupJobId: ID, dataDate: DATE, sourcePath: TEXT,
    client: string(undefined, { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 128 }),
    eoyMonth: integer('the fiscal year\'s last month', { minimum: 1, maximum: 12 }),
    keyName: string('the gpg recipient in the zone\'s keyring', { minLength: 1, maxLength: 1024 }),
    source: object({
      host: TEXT, port: integer(undefined, { minimum: 1, maximum: 65535 }), user: TEXT, database: TEXT,
      passwordEnv: string('a variable on the zone\'s allow-list (--values environment:)', { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
    }, ['port', 'user', 'passwordEnv'], CLOSED),
  }, ['sourcePath'], { ...CLOSED, description: 'The request plus what the zone needs from the job.' }),

  ZoneReceipt: object({ requestId: string(), zone: string(), created: { type: 'boolean', description: 'false for an order the zone already had: no second backup' } }),

  ZoneOrderView: object({
    order: schema('ZoneOrder'), receivedAt: time(),
    startedAt: time('when its backup started'), finishedAt: time('when its result went into the outbox'), deliveredAt: time(),
    state: string('the backup\'s state, or queued'), status: string(undefined, { enum: ['queued', 'active', 'done'] }),
    failures: array(schema('Failure')),
    outbox: { type: ['object', 'null'], description: 'the result while it is not yet delivered' },
  }, ['startedAt', 'finishedAt', 'deliveredAt'], { description: 'An order, its times, the backup\'s state and failures.' }),
};
