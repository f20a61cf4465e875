// Test fixture: `chartd serve --store postgres://…` replicas as child processes on one throwaway PostgreSQL cluster.

import { afterAll, afterEach, beforeAll } from 'vitest';
import { spawnServer, type ChildServer } from '../support/child.js';
import { createDatabase, databaseUrl, startPostgres, type PostgresServer } from '../support/postgres.js';
import { removeDir, tempDir, writeCharts } from '../support/server.js';

/** A gate no test fills (counts check-ins), a gate of one, and a chart moved by events. */
export const CHARTS: Record<string, string> = {
  'tally.yaml': 'chart: tally\ninitial: open\nstates:\n  open: { gate: { count: 100000 }, next: full }\n  full: { final: true }\n',
  'once.yaml': 'chart: once\ninitial: open\nstates:\n  open: { gate: { count: 1 }, next: passed }\n  passed: { final: true }\n',
  'pingpong.yaml': 'chart: pingpong\ninitial: ping\nstates:\n  ping: { on: { go: pong, stop: over } }\n  pong: { on: { go: ping, stop: over } }\n  over: { final: true }\n',
};

export interface Cluster {
  readonly pg: () => PostgresServer;
  /** The store URL of this test's database. */
  readonly url: () => string;
  /** Creates this test's database if no replica did yet; answers its store URL. */
  database(): Promise<string>;
  /** Starts a replica on this test's database (or CHARTD_STORE's of `env`), with the charts of CHARTS (or `charts`) and `args`. */
  start(args?: string[], charts?: Record<string, string>, env?: NodeJS.ProcessEnv): Promise<ChildServer>;
  /** Starts `count` replicas at once. */
  replicas(count: number, args?: string[]): Promise<ChildServer[]>;
}

/** One PostgreSQL for the test file, a fresh database for each test, every replica killed after it. */
export function clusterForFile(): Cluster {
  let pg: PostgresServer | undefined;
  let database = '';
  let tests = 0;
  const started: ChildServer[] = [];
  const dirs: string[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((child) => child.kill('SIGKILL')));
    await Promise.all(dirs.splice(0).map((dir) => removeDir(dir)));
    database = '';
  });
  const ensureDatabase = async (): Promise<string> => {
    if (!database) {
      database = `replicas_${process.pid}_${(tests += 1)}`;
      await createDatabase(pg!, database);
    }
    return databaseUrl(pg!, database);
  };
  const cluster: Cluster = {
    pg: () => pg!,
    url: () => databaseUrl(pg!, database),
    database: ensureDatabase,
    async start(args = [], charts = CHARTS, env = {}) {
      const url = await ensureDatabase();
      const chartDir = await tempDir('chartd-replica-charts-');
      dirs.push(chartDir);
      await writeCharts(chartDir, charts);
      // CHARTD_STORE in `env` names the store instead.
      const child = await spawnServer(['--chart', chartDir, ...(env['CHARTD_STORE'] ? [] : ['--store', url]), ...args], env);
      started.push(child);
      return child;
    },
    async replicas(count, args = []) {
      await ensureDatabase();
      return Promise.all(Array.from({ length: count }, () => cluster.start(args)));
    },
  };
  return cluster;
}

/** The replicas not killed (or exited). */
export function running(replicas: readonly ChildServer[]): ChildServer[] {
  return replicas.filter(({ child }) => child.exitCode === null && child.signalCode === null);
}

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Headers;
}

export async function call(base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const answer = await fetch(`${base}${path}`, {
    method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  return { status: answer.status, body: await answer.text(), headers: answer.headers };
}

export async function json<T>(base: string, path: string): Promise<T> {
  const answer = await call(base, 'GET', path);
  if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.body}`);
  return JSON.parse(answer.body) as T;
}
