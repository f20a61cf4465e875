// Starts the real server (real store, real charts on disk) on a loopback port for tests.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/servers.js';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  readonly chartDir: string;
}

export async function tempDir(prefix = 'chartd-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Writes `charts` (file name → YAML) into a chart directory and serves it. */
export async function writeCharts(chartDir: string, charts: Record<string, string>): Promise<void> {
  for (const [file, yaml] of Object.entries(charts)) await writeFile(join(chartDir, file), yaml);
}

export async function startTestServer(options: { chartDir: string; dataDir: string; defaultChart?: string; alertWebhook?: string; valuesFile?: string }): Promise<TestServer> {
  const server = await startServer({
    chartPaths: [options.chartDir], dataDir: options.dataDir, port: 0, host: '127.0.0.1',
    log: createLogger((process.env['CHARTD_TEST_LOG'] as 'info' | undefined) ?? 'silent'),
    ...(options.defaultChart ? { defaultChart: options.defaultChart } : {}),
    ...(options.alertWebhook ? { alertWebhook: options.alertWebhook } : {}),
    ...(options.valuesFile ? { valuesFile: options.valuesFile } : {}),
  });
  return Object.assign(server, { dataDir: options.dataDir, chartDir: options.chartDir });
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export const TRAFFIC_LIGHT = `current_state: green_state
states:
  - name: green_state
    func: increment
    current:
      key: count
      value: 0
    target:
      name: red_state
      when:
        key: count
        value: 1
  - name: red_state
    func: increment
    current:
      key: count
      value: 0
    target:
      name: blue_state
      when:
        key: count
        value: 1
  - name: blue_state
`;

export { sleep } from './wait.js';
