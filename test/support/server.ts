// Starts the real server (real store, real charts on disk) on a loopback port for tests.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer, type ServeConfig } from '../../src/servers.js';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  readonly chartDir: string;
  /** What it was started with, so a restart can start it the same way. */
  readonly config: ServeConfig;
}

export async function tempDir(prefix = 'chartd-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Temporary directories a test file makes as it goes, all removed by `removeAll()` (its afterEach). */
export function tempDirs(): { make(prefix: string): Promise<string>; removeAll(): Promise<void> } {
  const made: string[] = [];
  return {
    async make(prefix) {
      const dir = await tempDir(prefix);
      made.push(dir);
      return dir;
    },
    async removeAll() {
      await Promise.all(made.splice(0).map((dir) => removeDir(dir)));
    },
  };
}

/** Writes `charts` (file name → YAML) into a chart directory and serves it. */
export async function writeCharts(chartDir: string, charts: Record<string, string>): Promise<void> {
  for (const [file, yaml] of Object.entries(charts)) await writeFile(join(chartDir, file), yaml);
}

/** Serves `chartDir` from `dataDir` on a loopback port; any other option of `chartd serve` may be given too. */
export async function startTestServer(options: { chartDir: string; dataDir: string } & Partial<Omit<ServeConfig, 'chartPaths'>>): Promise<TestServer> {
  const { chartDir, ...rest } = options;
  const config: ServeConfig = {
    port: 0, host: '127.0.0.1', log: createLogger((process.env['CHARTD_TEST_LOG'] as 'info' | undefined) ?? 'silent'),
    ...rest, chartPaths: [chartDir],
  };
  const server = await startServer(config);
  return Object.assign(server, { dataDir: options.dataDir, chartDir: options.chartDir, config });
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A logger at `level` that keeps every line it writes, parsed, for a test to read. */
export function capturingLogger(level: 'debug' | 'info' = 'debug'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as LogLine);
      done();
    },
  });
  return { log: pino({ level, base: { service: 'chartd' } }, sink), lines };
}

/** Pino's number for the error level: lines at it or above are server faults. */
export const ERROR_LEVEL = 50;

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

/** A chart `gates` whose `wait` state opens after `count` PUTs; `extra` is YAML added to the states. */
export const gateChart = (count: number, extra = '') => `chart: gates
initial: wait
states:
  wait:
    gate: { count: ${count} }
    next: open
${extra}  open:
    final: true
`;

export { sleep } from './wait.js';
