// The backup controller's configuration file (--backup-config): job source, zones, tokens, timeouts.

import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDuration } from '../../chart/duration.js';
import { formatProblem, ProblemLog } from '../../chart/problem.js';
import { readYamlFile } from '../../chart/yamlSource.js';
import type { CallPolicy } from '../resilience.js';
import { readSecret, type Secret, type TokenSource } from '../secret.js';
import { lazy } from '../../lazy.js';

export type JobsConfig =
  | { readonly kind: 'http'; readonly url: string; readonly token?: Secret }
  | { readonly kind: 'file'; readonly file: string };

export interface ZoneConfig {
  readonly name: string;
  readonly url: string;
  /** Sent to the zone with every order. */
  readonly token: Secret;
}

export interface BackupConfig {
  readonly file: string;
  readonly jobs: JobsConfig;
  readonly zones: ReadonlyMap<string, ZoneConfig>;
  /** The token zones must present on POST /zone-results. */
  readonly resultsToken: Secret;
  readonly jobCalls: CallPolicy;
  readonly zoneCalls: CallPolicy;
  /** How long POST /backup-requests waits for the allow check before answering 503. */
  readonly answerWithinMs: number;
}

// Numbers too, so a bare `10` gets the duration parser's "no unit" message.
const DURATION = { type: ['string', 'number'] };
const TOKEN = {
  type: 'object',
  oneOf: [
    { properties: { env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } }, required: ['env'], additionalProperties: false },
    { properties: { file: { type: 'string', minLength: 1 } }, required: ['file'], additionalProperties: false },
  ],
};
const URL_STRING = { type: 'string', pattern: '^https?://' };

const SCHEMA = {
  type: 'object',
  properties: {
    jobs: {
      type: 'object',
      properties: { url: URL_STRING, token: TOKEN, file: { type: 'string', minLength: 1 } },
      additionalProperties: false,
    },
    zones: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
      additionalProperties: {
        type: 'object',
        properties: { url: URL_STRING, token: TOKEN },
        required: ['url', 'token'],
        additionalProperties: false,
      },
    },
    results_token: TOKEN,
    timeouts: {
      type: 'object',
      properties: { job_service: DURATION, zone: DURATION, answer: DURATION },
      additionalProperties: false,
    },
    calls: {
      type: 'object',
      properties: {
        retries: { type: 'integer', minimum: 0, maximum: 10 },
        retry_delay: DURATION,
        breaker_failures: { type: 'integer', minimum: 1 },
        half_open_after: DURATION,
      },
      additionalProperties: false,
    },
  },
  required: ['jobs', 'zones', 'results_token'],
  additionalProperties: false,
};

const validator = lazy(() => new Ajv({ allErrors: true, strict: false }).compile(SCHEMA));

interface RawConfig {
  jobs: { url?: string; token?: TokenSource; file?: string };
  zones: Record<string, { url: string; token: TokenSource }>;
  results_token: TokenSource;
  timeouts?: { job_service?: string | number; zone?: string | number; answer?: string | number };
  calls?: { retries?: number; retry_delay?: string | number; breaker_failures?: number; half_open_after?: string | number };
}

/** Reads and checks the file; throws one Error listing every problem (file:line: path: message). */
export async function loadBackupConfig(file: string): Promise<BackupConfig> {
  const doc = await readYamlFile(file, 'backup config');
  const log = new ProblemLog(file, doc.lineOf);
  const validate = validator();
  if (!validate(doc.value)) {
    for (const error of collapseTokenErrors(validate.errors ?? [])) log.add(pathOf(error), messageOf(error));
  }
  const raw = doc.value as unknown as RawConfig;
  const duration = (path: string, text: string | number | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    try {
      const ms = parseDuration(String(text));
      if (ms === 0) throw new Error('must be longer than 0s');
      return ms;
    } catch (error) {
      log.add(path, (error as Error).message);
      return fallback;
    }
  };
  if (log.empty && (raw.jobs.url === undefined) === (raw.jobs.file === undefined)) {
    log.add('jobs', 'give the job service as jobs.url (the UI service) or jobs.file (a YAML file of jobs), exactly one');
  }
  if (log.empty && raw.jobs.file !== undefined && raw.jobs.token !== undefined) log.add('jobs.token', 'a token applies to jobs.url only');
  const timeouts = raw.timeouts ?? {};
  const calls = raw.calls ?? {};
  const common = {
    retries: calls.retries ?? 2,
    retryDelayMs: duration('calls.retry_delay', calls.retry_delay, 200),
    breakerFailures: calls.breaker_failures ?? 5,
    halfOpenAfterMs: duration('calls.half_open_after', calls.half_open_after, 30_000),
  };
  const jobCalls = { ...common, timeoutMs: duration('timeouts.job_service', timeouts.job_service, 5000) };
  const zoneCalls = { ...common, timeoutMs: duration('timeouts.zone', timeouts.zone, 10_000) };
  const answerWithinMs = duration('timeouts.answer', timeouts.answer, 20_000);
  if (!log.empty) throw new Error(`backup config has problems:\n${log.sorted().map(formatProblem).join('\n')}`);

  const base = dirname(resolve(file));
  const jobs: JobsConfig = raw.jobs.url !== undefined
    ? { kind: 'http', url: raw.jobs.url.replace(/\/+$/, ''), ...(raw.jobs.token ? { token: await readSecret(raw.jobs.token, `${file}: jobs.token`, base) } : {}) }
    : { kind: 'file', file: isAbsolute(raw.jobs.file!) ? raw.jobs.file! : resolve(base, raw.jobs.file!) };
  const zones = new Map<string, ZoneConfig>();
  for (const [name, zone] of Object.entries(raw.zones)) {
    zones.set(name, { name, url: zone.url.replace(/\/+$/, ''), token: await readSecret(zone.token, `${file}: zones.${name}.token`, base) });
  }
  const resultsToken = await readSecret(raw.results_token, `${file}: results_token`, base);
  return { file, jobs, zones, resultsToken, jobCalls, zoneCalls, answerWithinMs };
}

/** A wrong token entry fails every branch of its oneOf; one message per token says it better. */
function collapseTokenErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const tokenPath = (error: ErrorObject): string | undefined => /^(.*\/(?:token|results_token))(?:\/|$)/.exec(error.instancePath)?.[1];
  const seen = new Set<string>();
  const kept: ErrorObject[] = [];
  for (const error of errors) {
    const path = tokenPath(error);
    if (path === undefined) {
      kept.push(error);
    } else if (!seen.has(path)) {
      seen.add(path);
      kept.push({ ...error, instancePath: path, keyword: 'oneOf' });
    }
  }
  return kept;
}

function pathOf(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'additionalProperties') parts.push(String(error.params['additionalProperty']));
  return parts.join('.');
}

function messageOf(error: ErrorObject): string {
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown key '${String(error.params['additionalProperty'])}'`;
    case 'required':
      return `missing required key '${String(error.params['missingProperty'])}'`;
    case 'oneOf':
      return 'a token is { env: VARIABLE } or { file: PATH } — never the token itself';
    case 'pattern':
      return error.instancePath.endsWith('/url') ? 'must be an http:// or https:// URL' : `${error.message ?? 'is invalid'}`;
    default:
      return error.message ?? 'is invalid';
  }
}
