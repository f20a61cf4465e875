// The Zone port and what crosses it: orders (controller -> zone) and results (zone -> controller's inbox).

import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { BadRequest } from '../errors.js';
import { lazy } from '../lazy.js';
import type { Service } from '../services/service.js';

/** Everything a zone needs to make one backup; the controller adds the job's data to the request's. */
export interface ZoneOrder {
  /** The request id: the zone's idempotency key and the trace id. */
  readonly requestId: string;
  readonly apiVersion: string;
  readonly backupJobId: string;
  readonly dataDate: string;
  readonly sourcePath?: string;
  readonly client: string;
  readonly eoyMonth: number;
  /** gpg recipient in the zone's keyring. */
  readonly keyName: string;
  readonly source: {
    readonly host: string;
    readonly port?: number;
    readonly user?: string;
    /** The database to back up: the request's sourcePath, else the job's default. */
    readonly database: string;
    readonly passwordEnv?: string;
  };
}

/** The zone's answer to an order: accepted (once per request id). */
export interface ZoneReceipt {
  readonly requestId: string;
  readonly zone: string;
  /** False when the zone already had this order (a re-send): no second backup was started. */
  readonly created: boolean;
}

/** What a zone reports when the backup is done, well or not. */
export interface ZoneResult {
  readonly requestId: string;
  readonly zone: string;
  readonly ok: boolean;
  /** Where the encrypted backup is, in the zone's storage (when ok). */
  readonly file?: string;
  readonly size?: number;
  readonly sha256?: string;
  /** Failure reports ("Failure: <prefix> <node>: <message>"); may be non-empty even when ok (a cleanup failed). */
  readonly failures: readonly string[];
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface Zone {
  readonly name: string;
  readonly url: string;
  /** Sends the order; idempotent by requestId. Throws Refused when the zone will never take it. */
  dispatch(order: ZoneOrder, signal?: AbortSignal): Promise<ZoneReceipt>;
  circuit(): string;
  /** The link to the zone, which the supervisor starts and watches (GET /services). */
  readonly link?: Service;
}

const ID = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$' };
const TEXT = { type: 'string', minLength: 1, maxLength: 1024 };

const ORDER_SCHEMA = {
  type: 'object',
  properties: {
    requestId: ID,
    apiVersion: { type: 'string', minLength: 1, maxLength: 16 },
    backupJobId: ID,
    dataDate: { type: 'string', format: 'date' },
    sourcePath: TEXT,
    client: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 128 },
    eoyMonth: { type: 'integer', minimum: 1, maximum: 12 },
    keyName: TEXT,
    source: {
      type: 'object',
      properties: {
        host: TEXT,
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        user: TEXT,
        database: TEXT,
        passwordEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      },
      required: ['host', 'database'],
      additionalProperties: false,
    },
  },
  required: ['requestId', 'apiVersion', 'backupJobId', 'dataDate', 'client', 'eoyMonth', 'keyName', 'source'],
  additionalProperties: false,
};

const RESULT_SCHEMA = {
  type: 'object',
  properties: {
    requestId: ID,
    zone: { type: 'string', minLength: 1, maxLength: 128 },
    ok: { type: 'boolean' },
    file: TEXT,
    size: { type: 'integer', minimum: 0 },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    failures: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 4096 } },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
  },
  required: ['requestId', 'zone', 'ok', 'failures', 'startedAt', 'finishedAt'],
  if: { properties: { ok: { const: true } } },
  then: { required: ['file', 'size', 'sha256'] },
  additionalProperties: false,
};

const validators = lazy(() => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return { order: ajv.compile(ORDER_SCHEMA), result: ajv.compile(RESULT_SCHEMA) };
});

export function checkOrder(value: unknown): ZoneOrder {
  const { order } = validators();
  if (!order(value)) throw new BadRequest(`not a valid backup order: ${problems(order.errors)}`, 'invalid_order');
  return value as unknown as ZoneOrder;
}

export function checkResult(value: unknown): ZoneResult {
  const { result } = validators();
  if (!result(value)) throw new BadRequest(`not a valid zone result: ${problems(result.errors)}`, 'invalid_result');
  return value as unknown as ZoneResult;
}

function problems(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .filter((error) => error.keyword !== 'if')
    .map((error) => {
      const extra = error.keyword === 'additionalProperties' ? ` '${String(error.params['additionalProperty'])}'` : '';
      return `${error.instancePath || 'body'} ${error.message ?? 'is invalid'}${extra}`;
    })
    .join('; ');
}
