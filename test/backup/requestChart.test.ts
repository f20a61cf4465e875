// charts/backup-request.yaml: seed 002's BackupRequestStates, loadable with or without a controller.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChartFile } from '../../src/chart/load.js';
import { edgesOf, type Chart, type StepState } from '../../src/chart/model.js';
import { handlerRegistry } from '../../src/main.js';
import { instanceKey } from '../../src/runtime/runtime.js';
import { CLI } from '../support/child.js';
import { removeDir, startTestServer, tempDir, type TestServer } from '../support/server.js';

let chart: Chart;

beforeAll(async () => {
  chart = await loadChartFile('charts/backup-request.yaml', { handlers: handlerRegistry() });
});

describe('charts/backup-request.yaml', () => {
  it('is the seed\'s lifecycle: Received -> Allowed | NotAllowed -> Sent -> Succeeded | Failed', () => {
    expect(chart.initial).toBe('Received');
    const edges = Object.values(chart.states).flatMap((state) => edgesOf(state).map((edge) => `${edge.from} -${edge.kind}:${edge.label}-> ${edge.to}`));
    expect(edges).toEqual([
      'Received -happy:success-> Allowed',
      'Received -unhappy:failure-> NotAllowed',
      'Allowed -happy:success-> Sent',
      'Allowed -unhappy:failure-> Failed',
      'Sent -event:succeeded-> Succeeded',
      'Sent -event:failed-> Failed',
      'Sent -timeout:timeout 1d-> Failed',
    ]);
    expect(Object.values(chart.states).filter((state) => state.kind === 'final').map((state) => state.name).sort()).toEqual(['Failed', 'NotAllowed', 'Succeeded']);
    for (const state of Object.values(chart.states)) expect(state.description, state.name).toBeTruthy();
  });

  it('retries the check and the send for as long as it takes, at most two minutes apart', () => {
    for (const name of ['Received', 'Allowed']) {
      const step = chart.states[name] as StepState;
      expect(step.run).toBe(name === 'Received' ? 'backup.checkAllowed' : 'backup.dispatch');
      expect(step.retry.attempts).toBeGreaterThanOrEqual(1_000_000);
      expect(step.retry).toMatchObject({ delayMs: 1000, backoff: 2, maxDelayMs: 120_000 });
    }
  });

  it('draws as the seed\'s picture: happy paths green, the unhappy ones red', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'diagram', 'charts/backup-request.yaml']);
    for (const line of ['s_Received --> s_Allowed', 's_Received --> s_NotAllowed', 's_Allowed --> s_Sent', 's_Allowed --> s_Failed',
      's_Sent -->|"succeeded"| s_Succeeded', 's_Sent -->|"failed"| s_Failed', 's_Sent -.->|"timeout 1d"| s_Failed',
      'linkStyle 1,3 stroke:#2e7d32', 'linkStyle 2,4 stroke:#c62828']) {
      expect(stdout).toContain(line);
    }
  });
});

describe('served without --backup-config', () => {
  let server: TestServer;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await tempDir();
    server = await startTestServer({ chartDir: 'charts', dataDir });
  });
  afterAll(async () => {
    await server?.close();
    await removeDir(dataDir);
  });

  it('loads, but its instances are the controller\'s: the generic routes refuse them, saying how to run the controller', async () => {
    const context = { apiVersion: 'v1', backupJobId: '7', dataDate: '2026-11-21', transport: 'http' };
    const created = await request(server.url).post('/charts/backup-request/instances').send({ id: 'manual-1', context });
    expect(created.status).toBe(403);
    expect(created.body.error).toEqual({
      code: 'owned_by_service',
      message: 'chart backup-request is driven by the backup-controller: its instances are created and moved only by that service, which does not run in this server (start chartd serve with --backup-config FILE)',
    });
    expect((await server.engine.runtime.find('backup-request', 'manual-1'))).toBeUndefined();
    expect((await request(server.url).get('/backup-requests')).status).toBe(404);
  });

  it('runs an instance made in-process to NotAllowed, saying how to configure the controller', async () => {
    await server.engine.runtime.create('backup-request', 'manual-2', { apiVersion: 'v1', backupJobId: '7', dataDate: '2026-11-21', transport: 'http' });
    const done = await server.engine.runtime.waiters.wait(instanceKey('backup-request', 'manual-2'), (s) => s.status === 'done', 5000)
      ?? (await server.engine.runtime.snapshot('backup-request', 'manual-2'));
    expect(done.state).toBe('NotAllowed');
    expect(done.failures).toEqual([expect.objectContaining({
      node: 'Received', error: 'backup.checkAllowed: backup controller not configured: start chartd serve with --backup-config FILE',
    })]);
  });

  it('refuses a context that is not a backup request', () => {
    expect(() => server.engine.runtime.checkContext('backup-request', { apiVersion: 'v9', backupJobId: '7', dataDate: 'soon', transport: 'carrier-pigeon' }))
      .toThrow(/context\.apiVersion must be equal to one of the allowed values.*context\.dataDate must match format "date".*context\.transport/);
  });
});
