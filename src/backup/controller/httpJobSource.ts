// JobSource adapter for the job service (the UI's API): GET {url}/backup-jobs/:id, bounded, retried, circuit-broken.

import type { CallPolicy } from '../resilience.js';
import { parseJob, type BackupJob, type JobSource } from './job.js';
import { callJson } from '../callJson.js';
import type { Fetch } from '../../net/httpClient.js';
import { createResilience } from '../resilience.js';
import type { Secret } from '../secret.js';

export function createHttpJobSource(url: string, policy: CallPolicy, fetch: Fetch, token?: Secret): JobSource {
  const description = `job service ${url}`;
  const resilient = createResilience(description, policy);
  return {
    description,
    circuit: () => resilient.circuit(),
    async get(jobId, trace): Promise<BackupJob | undefined> {
      const answer = await resilient.execute((signal) => callJson(fetch, `${url}/backup-jobs/${encodeURIComponent(jobId)}`, {
        method: 'GET',
        headers: { 'x-request-id': trace.requestId, ...(token ? { authorization: `Bearer ${token.reveal()}` } : {}) },
        signal,
        accept: [404],
        service: description,
      }), trace.signal);
      if (answer.status === 404) return undefined;
      return parseJob(answer.body, jobId, description);
    },
  };
}
