// Backup jobs: the allow rule, and both JobSource adapters — the job service over real loopback HTTP, and a YAML file.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Unusable } from '../../src/backup/errors.js';
import { createFileJobSource } from '../../src/backup/controller/fileJobSource.js';
import { createHttpJobSource } from '../../src/backup/controller/httpJobSource.js';
import { decideAllowed, parseJob, type BackupJob } from '../../src/backup/controller/job.js';
import { Secret } from '../../src/backup/secret.js';
import { createHttpClient, type HttpClient } from '../../src/net/httpClient.js';
import { startFakeJobService, type FakeJobService } from './support/fakeJobService.js';
import { freePort } from './support/world.js';

const JOB: BackupJob = {
  id: '123', status: 'approved', inForce: { from: '2026-01-01', to: '2026-12-31' }, zone: 'east', client: 'acme', eoyMonth: 6,
  keyName: 'backups@example.com', source: { host: 'db1', port: 5432, user: 'backup', database: 'sales', databases: ['sales_restated'], passwordEnv: 'SALES_PW' },
};
const ask = (overrides: Partial<{ dataDate: string; sourcePath: string }> = {}) => ({ backupJobId: '123', dataDate: '2026-11-21', ...overrides });

describe('decideAllowed', () => {
  it('allows an approved job in force on the data date, for its own sources', () => {
    expect(decideAllowed(JOB, ask())).toEqual({ allowed: true });
    expect(decideAllowed(JOB, ask({ dataDate: '2026-01-01' }))).toEqual({ allowed: true });
    expect(decideAllowed(JOB, ask({ dataDate: '2026-12-31', sourcePath: 'sales_restated' }))).toEqual({ allowed: true });
    expect(decideAllowed({ ...JOB, inForce: { from: '2020-01-01', to: null } }, ask({ dataDate: '2099-01-01' }))).toEqual({ allowed: true });
  });

  it('says why anything else is not allowed', () => {
    const reason = (job: BackupJob | undefined, question = ask()) => {
      const answer = decideAllowed(job, question);
      return answer.allowed ? 'allowed' : answer.reason;
    };
    expect(reason(undefined)).toBe('backup job 123 does not exist');
    expect(reason({ ...JOB, status: 'denied' })).toBe('backup job 123 is denied');
    expect(reason({ ...JOB, status: 'pending' })).toBe('backup job 123 is pending approval');
    expect(reason(JOB, ask({ dataDate: '2025-12-31' }))).toBe('backup job 123 is not in force for data of 2025-12-31: it is in force from 2026-01-01');
    expect(reason(JOB, ask({ dataDate: '2027-01-01' }))).toBe('backup job 123 is not in force for data of 2027-01-01: it was in force until 2026-12-31');
    expect(reason(JOB, ask({ sourcePath: 'payroll' }))).toBe("source path payroll is not one of backup job 123's sources (sales, sales_restated)");
  });
});

describe('parseJob', () => {
  it('keeps only the fields the controller uses', () => {
    expect(parseJob({ ...JOB, owner: 'finance', source: { ...JOB.source, note: 'x' } }, '123', 'test')).toEqual(JOB);
  });

  it('refuses a malformed job, naming every problem', () => {
    expect(() => parseJob({ ...JOB, status: 'maybe', eoyMonth: 13, inForce: { from: '1 Jan' } }, '123', 'job service X')).toThrow(Unusable);
    expect(() => parseJob({ ...JOB, status: 'maybe', eoyMonth: 13 }, '123', 'job service X'))
      .toThrow(/job service X returned an unusable backup job 123: \/status must be equal to one of the allowed values; \/eoyMonth must be <= 12/);
    expect(() => parseJob(JOB, '124', 'job service X')).toThrow('job service X returned backup job 123 when asked for 124');
  });
});

describe('the job service over HTTP', () => {
  let service: FakeJobService;
  let client: HttpClient;
  const policy = { timeoutMs: 500, retries: 1, retryDelayMs: 20, breakerFailures: 2, halfOpenAfterMs: 300 };
  const token = new Secret('t'.repeat(32), 'test');

  beforeAll(async () => {
    service = await startFakeJobService({ '123': { ...JOB, owner: 'finance' } });
    client = await createHttpClient();
  });
  afterAll(async () => {
    await client.close();
    await service.stop();
  });

  it('fetches a job with the request id and the bearer token; an unknown job is undefined', async () => {
    const jobs = createHttpJobSource(service.url, policy, client.fetch, token);
    expect(await jobs.get('123', { requestId: 'req-1' })).toEqual(JOB);
    expect(service.seen.at(-1)).toEqual({ path: '/backup-jobs/123', requestId: 'req-1', authorization: `Bearer ${'t'.repeat(32)}` });
    expect(await jobs.get('999', { requestId: 'req-2' })).toBeUndefined();
    expect(jobs.circuit?.()).toBe('closed');
  });

  it('retries a failing service, opens the circuit, fails fast while open, and closes once the service is back', async () => {
    const jobs = createHttpJobSource(service.url, policy, client.fetch);
    service.failWith = 500;
    const calls = service.seen.length;
    await expect(jobs.get('123', { requestId: 'req-3' })).rejects.toThrow(/answered GET \/backup-jobs\/123 with 500: the job service is having a bad day/);
    expect(service.seen.length - calls).toBe(2);
    expect(jobs.circuit?.()).toBe('open');
    await expect(jobs.get('123', { requestId: 'req-4' })).rejects.toThrow(/circuit is open after 2 failures in a row \(last: .*500.*\)/);
    expect(service.seen.length - calls).toBe(2);
    service.failWith = undefined;
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await jobs.get('123', { requestId: 'req-5' })).toEqual(JOB);
    expect(jobs.circuit?.()).toBe('closed');
  });

  it('is the job-service link: failed while its circuit is open; a start asks for the probe job and, answered, closes the circuit at once', async () => {
    const jobs = createHttpJobSource(service.url, { ...policy, halfOpenAfterMs: 60_000 }, client.fetch, token);
    const link = jobs.link!;
    expect(link.name).toBe('job-service');
    await link.start();
    expect(link.failure()).toBeUndefined();
    service.failWith = 500;
    await expect(jobs.get('123', { requestId: 'req-6' })).rejects.toThrow(/with 500/);
    expect(link.failure()).toMatch(/^job service http:\/\/127\.0\.0\.1:\d+ is not being called: its circuit is open after 2 failures in a row \(last: .*500/);
    // Started while the service still fails: the probe's one call says why, and the circuit stays open.
    await expect(link.start()).rejects.toThrow(/answered GET \/backup-jobs\/chartd-probe with 500/);
    expect(jobs.circuit?.()).toBe('open');
    service.failWith = undefined;
    await link.start();
    expect(service.seen.at(-1)).toEqual({ path: '/backup-jobs/chartd-probe', requestId: 'chartd-probe', authorization: `Bearer ${'t'.repeat(32)}` });
    expect(link.failure()).toBeUndefined();
    // Called at once, rather than a minute later when the circuit would have let a trial call through.
    expect(await jobs.get('123', { requestId: 'req-7' })).toEqual(JOB);
  });

  it('treats a service that does not answer in time, or not at all, as unreachable', async () => {
    const silent = await import('node:net').then(({ createServer }) => new Promise<{ url: string; close: () => void }>((resolve) => {
      const server = createServer(() => undefined).listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        resolve({ url: `http://127.0.0.1:${port}`, close: () => server.close() });
      });
    }));
    try {
      await expect(createHttpJobSource(silent.url, { ...policy, timeoutMs: 100, retries: 0 }, client.fetch).get('123', { requestId: 'r' })).rejects.toThrow(/no answer within 100 ms/);
    } finally {
      silent.close();
    }
    const closed = await freePort();
    await expect(createHttpJobSource(`http://127.0.0.1:${closed}`, { ...policy, retries: 0 }, client.fetch).get('123', { requestId: 'r' }))
      .rejects.toThrow(`cannot be reached at http://127.0.0.1:${closed}/backup-jobs/123: ECONNREFUSED`);
  });
});

describe('a job file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chartd-jobs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is read afresh on every check, so edits apply at once', async () => {
    const file = join(dir, 'jobs.yaml');
    const jobs = createFileJobSource(file);
    await expect(jobs.get('123', { requestId: 'r' })).rejects.toThrow(/job file .*jobs\.yaml cannot be read: ENOENT/);
    await writeFile(file, `jobs:
  - id: "123"
    status: pending
    inForce: { from: 2026-01-01, to: 2026-12-31 }
    zone: east
    client: acme
    eoyMonth: 6
    keyName: backups@example.com
    source: { host: db1, port: 5432, user: backup, database: sales, databases: [sales_restated], passwordEnv: SALES_PW }
`);
    expect((await jobs.get('123', { requestId: 'r' }))?.status).toBe('pending');
    expect(await jobs.get('999', { requestId: 'r' })).toBeUndefined();
    await writeFile(file, (await import('node:fs/promises').then(({ readFile }) => readFile(file, 'utf8'))).replace('pending', 'approved'));
    expect(await jobs.get('123', { requestId: 'r' })).toEqual(JOB);
    await writeFile(file, 'jobs: {}\n');
    await expect(jobs.get('123', { requestId: 'r' })).rejects.toThrow(Unusable);
  });
});
