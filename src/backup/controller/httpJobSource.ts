// JobSource adapter for the job service (the UI's API): GET {url}/backup-jobs/:id, bounded, retried, circuit-broken.

import type { CallPolicy } from '../resilience.js';
import { parseJob, type BackupJob, type JobSource } from './job.js';
import { callJson } from '../callJson.js';
import type { Fetch } from '../../net/httpClient.js';
import { linkService } from '../link.js';
import { createResilience } from '../resilience.js';
import type { Secret } from '../secret.js';

/** The job the link asks for when it starts (also its X-Request-Id), documented for the job service's operators. */
export const PROBE_JOB = 'chartd-probe';

export function createHttpJobSource(url: string, policy: CallPolicy, fetch: Fetch, token?: Secret): JobSource {
  const description = `job service ${url}`;
  const resilient = createResilience(description, policy);
  const ask = (jobId: string, requestId: string, signal: AbortSignal) => callJson(fetch, `${url}/backup-jobs/${encodeURIComponent(jobId)}`, {
    method: 'GET',
    headers: { 'x-request-id': requestId, ...(token ? { authorization: `Bearer ${token.reveal()}` } : {}) },
    signal,
    accept: [404],
    service: description,
  });
  return {
    description,
    circuit: () => resilient.circuit(),
    // Any job will do to see that the service answers and takes the token: a 404 is an answer.
    link: linkService('job-service', resilient, policy.timeoutMs, (signal) => ask(PROBE_JOB, PROBE_JOB, signal)),
    async get(jobId, trace): Promise<BackupJob | undefined> {
      const answer = await resilient.execute((signal) => ask(jobId, trace.requestId, signal), trace.signal);
      if (answer.status === 404) return undefined;
      return parseJob(answer.body, jobId, description);
    },
  };
}
