// Backup jobs (owned by the job service, read-only here), the JobSource port, and the allow rule.

import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { Unusable } from '../errors.js';
import { lazy } from '../../lazy.js';
import type { Service } from '../../services/service.js';

/** A backup job as the job service (the UI's API) describes it; unknown extra fields are ignored. */
export interface BackupJob {
  readonly id: string;
  readonly status: 'approved' | 'denied' | 'pending';
  /** Dates (YYYY-MM-DD, inclusive) whose data the job may back up; no `to` = open-ended. */
  readonly inForce: { readonly from: string; readonly to?: string | null };
  /** Name of the backup zone (as configured on the controller) that keeps this job's backups. */
  readonly zone: string;
  /** Client name; the zone keeps one directory per client. */
  readonly client: string;
  /** Last month (1-12) of the client's fiscal year; names the FY directory. */
  readonly eoyMonth: number;
  /** gpg recipient the backup is encrypted to (a key in the zone's keyring). */
  readonly keyName: string;
  readonly source: JobSourceDatabase;
}

export interface JobSourceDatabase {
  readonly host: string;
  readonly port?: number;
  readonly user?: string;
  /** The database backed up when a request names no sourcePath. */
  readonly database: string;
  /** Other databases a request may name as its sourcePath (e.g. a restatement copy). */
  readonly databases?: readonly string[];
  /** Name of an environment variable on the zone's host holding the password. */
  readonly passwordEnv?: string;
}

/** What a check needs to know about the request. */
export interface AllowQuestion {
  readonly backupJobId: string;
  readonly dataDate: string;
  readonly sourcePath?: string;
}

export type AllowAnswer = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

export interface JobSource {
  /** e.g. "job service http://ui:8080" or "job file /etc/chartd/jobs.yaml", for messages. */
  readonly description: string;
  /**
   * The job, or undefined when the job service says it does not exist. Throws Unusable for a malformed
   * answer, any other Error when the service cannot be reached (the caller retries later).
   * `requestId` travels with the call (X-Request-Id) for tracing.
   */
  get(jobId: string, trace: { readonly requestId: string; readonly signal?: AbortSignal }): Promise<BackupJob | undefined>;
  /** State of the circuit breaker in front of a remote service (closed, open, half-open). */
  circuit?(): string;
  /** The link to a remote service, which the supervisor starts and watches (GET /services). */
  readonly link?: Service;
}

const NAME = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$' };
const DATE = { type: 'string', format: 'date' };
export const BACKUP_JOB_SCHEMA = {
  type: 'object',
  properties: {
    id: NAME,
    status: { enum: ['approved', 'denied', 'pending'] },
    inForce: {
      type: 'object',
      properties: { from: DATE, to: { anyOf: [DATE, { type: 'null' }] } },
      required: ['from'],
    },
    zone: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    client: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
    eoyMonth: { type: 'integer', minimum: 1, maximum: 12 },
    keyName: { type: 'string', minLength: 1 },
    source: {
      type: 'object',
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        user: { type: 'string', minLength: 1 },
        database: { type: 'string', minLength: 1 },
        databases: { type: 'array', items: { type: 'string', minLength: 1 } },
        passwordEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      },
      required: ['host', 'database'],
    },
  },
  required: ['id', 'status', 'inForce', 'zone', 'client', 'eoyMonth', 'keyName', 'source'],
};

const jobValidator = lazy(() => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv.compile(BACKUP_JOB_SCHEMA);
});

/** Checks a job as received; throws Unusable naming every problem. */
export function parseJob(value: unknown, expectedId: string, from: string): BackupJob {
  const validateJob = jobValidator();
  if (!validateJob(value)) {
    const problems = (validateJob.errors ?? []).map((error) => `${error.instancePath || 'job'} ${error.message ?? 'is invalid'}`);
    throw new Unusable(`${from} returned an unusable backup job ${expectedId}: ${problems.join('; ')}`);
  }
  const job = value as unknown as BackupJob;
  if (job.id !== expectedId) throw new Unusable(`${from} returned backup job ${job.id} when asked for ${expectedId}`);
  // Only the fields we use are kept (and stored with the request); the job service may send many more.
  const { host, port, user, database, databases, passwordEnv } = job.source;
  return {
    id: job.id, status: job.status, inForce: { from: job.inForce.from, ...(job.inForce.to ? { to: job.inForce.to } : {}) },
    zone: job.zone, client: job.client, eoyMonth: job.eoyMonth, keyName: job.keyName,
    source: {
      host, database,
      ...(port !== undefined ? { port } : {}), ...(user !== undefined ? { user } : {}),
      ...(databases !== undefined ? { databases: [...databases] } : {}), ...(passwordEnv !== undefined ? { passwordEnv } : {}),
    },
  };
}

/** The business rule: an approved job, in force on the data date, backing up one of its own sources. */
export function decideAllowed(job: BackupJob | undefined, question: AllowQuestion): AllowAnswer {
  const id = question.backupJobId;
  if (!job) return deny(`backup job ${id} does not exist`);
  if (job.status === 'denied') return deny(`backup job ${id} is denied`);
  if (job.status === 'pending') return deny(`backup job ${id} is pending approval`);
  if (question.dataDate < job.inForce.from) {
    return deny(`backup job ${id} is not in force for data of ${question.dataDate}: it is in force from ${job.inForce.from}`);
  }
  if (job.inForce.to && question.dataDate > job.inForce.to) {
    return deny(`backup job ${id} is not in force for data of ${question.dataDate}: it was in force until ${job.inForce.to}`);
  }
  if (question.sourcePath !== undefined) {
    const allowed = [job.source.database, ...(job.source.databases ?? [])];
    if (!allowed.includes(question.sourcePath)) {
      return deny(`source path ${question.sourcePath} is not one of backup job ${id}'s sources (${allowed.join(', ')})`);
    }
  }
  return { allowed: true };
}

function deny(reason: string): AllowAnswer {
  return { allowed: false, reason };
}
