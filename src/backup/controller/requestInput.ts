// Checks what a requester sent (any transport) before anything is stored.

import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { BadRequest } from '../../errors.js';
import type { RequestInput } from './requestRecords.js';
import { lazy } from '../../lazy.js';

export const API_VERSIONS = ['v1'] as const;

const SCHEMA = {
  type: 'object',
  properties: {
    apiVersion: { enum: API_VERSIONS },
    backupJobId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$' },
    dataDate: { type: 'string', format: 'date' },
    sourcePath: { type: 'string', minLength: 1, maxLength: 255 },
  },
  required: ['apiVersion', 'backupJobId', 'dataDate'],
  additionalProperties: false,
};

const validator = lazy(() => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv.compile(SCHEMA);
});

const EXAMPLE = '{"apiVersion": "v1", "backupJobId": "123", "dataDate": "2026-11-21"}';

export function checkRequestInput(body: unknown): RequestInput {
  const validate = validator();
  if (!validate(body)) {
    const problems = (validate.errors ?? []).map((error) => {
      const where = error.instancePath ? error.instancePath.slice(1) : 'body';
      if (error.keyword === 'additionalProperties') return `unknown field ${String(error.params['additionalProperty'])}`;
      if (error.keyword === 'enum') return `${where} must be one of ${API_VERSIONS.join(', ')}`;
      if (error.keyword === 'format') return `${where} must be a date, YYYY-MM-DD`;
      return `${where} ${error.message ?? 'is invalid'}`;
    });
    throw new BadRequest(`not a valid backup request (${problems.join('; ')}); e.g. ${EXAMPLE}`, 'invalid_backup_request');
  }
  const input = body as unknown as RequestInput;
  return {
    apiVersion: input.apiVersion, backupJobId: input.backupJobId, dataDate: input.dataDate,
    ...(input.sourcePath !== undefined ? { sourcePath: input.sourcePath } : {}),
  };
}

/** Same request again (an Idempotency-Key retry) or a different one reusing the key. */
export function sameInput(a: RequestInput, b: RequestInput): boolean {
  return a.apiVersion === b.apiVersion && a.backupJobId === b.backupJobId && a.dataDate === b.dataDate && a.sourcePath === b.sourcePath;
}
