// Test fixture: the backup system on loopback — fake job service, real zone, real PostgreSQL and gpg, a controller config.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createLogger } from '../../../src/log.js';
import { loadServerTls } from '../../../src/net/tlsFiles.js';
import { startServer, startZoneServer, ZONE_CHART_FILE, type RunningServer, type RunningZone } from '../../../src/servers.js';
import type { Certificates } from '../../support/certs.js';
import { CLI } from '../../support/child.js';
import { makeGpgHome, type GpgHome } from '../../support/gpg.js';
import { createSampleDatabase, freePort, startPostgres, type PostgresServer } from '../../support/postgres.js';

export { freePort };
import { startFakeJobService, type FakeJobService } from './fakeJobService.js';

export const ZONE_TOKEN_ENV = 'CHARTD_TEST_ZONE_TOKEN';
export const RESULTS_TOKEN_ENV = 'CHARTD_TEST_RESULTS_TOKEN';
export const ZONE_NAME = 'local';

export interface World {
  readonly pg: PostgresServer;
  readonly gpg: GpgHome;
  readonly jobs: FakeJobService;
  readonly root: string;
  readonly storage: string;
  readonly controllerUrl: string;
  readonly controllerPort: number;
  readonly zoneUrl: string;
  readonly zonePort: number;
  /** The tokens, also set in process.env (and to be passed to spawned children). */
  readonly env: Record<string, string>;
  /** With `tls`: the flags both sides are started with (https, client certificates required and presented); else none. */
  readonly tlsFlags: readonly string[];
  readonly configFile: string;
  /** The zone's --values file: its environment allow-list (the password variable of a PGURL with one). */
  readonly zoneValues: string;
  /** A backup job of the fake job service, in the documented shape. */
  job(id: string, overrides?: Record<string, unknown>): Record<string, unknown>;
  startZone(): Promise<RunningZone>;
  /** The same zone (port, data, storage) as `chartd zone`, a child process. */
  spawnZone(): Promise<ZoneChild>;
  startController(dataDir?: string, chartPath?: string): Promise<RunningServer>;
  /** Encrypted backups in the zone's long-term storage, relative to it. */
  storedBackups(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const log = () => createLogger((process.env['CHARTD_TEST_LOG'] as 'info' | undefined) ?? 'silent');

/** With `tls`, every link (job service, zone, controller) is https with client certificates, all signed by its CA. */
export async function makeWorld(options: { database?: string; calls?: string; tls?: Certificates } = {}): Promise<World> {
  const database = options.database ?? 'sales';
  const { tls } = options;
  const jobServiceTls = tls ? await loadServerTls({ ...tls.server, clientCa: tls.ca }) : undefined;
  const [pg, gpg, jobs, controllerPort, zonePort] = await Promise.all([startPostgres(), makeGpgHome(), startFakeJobService({}, jobServiceTls), freePort(), freePort()]);
  await createSampleDatabase(pg, database);
  const root = await mkdtemp(join(tmpdir(), 'chartd-bc-'));
  const storage = join(root, 'storage');
  await mkdir(storage);
  const env = { [ZONE_TOKEN_ENV]: randomBytes(16).toString('hex'), [RESULTS_TOKEN_ENV]: randomBytes(16).toString('hex') };
  Object.assign(process.env, env);
  const scheme = tls ? 'https' : 'http';
  const controllerUrl = `${scheme}://127.0.0.1:${controllerPort}`;
  const zoneUrl = `${scheme}://127.0.0.1:${zonePort}`;
  const serverTls = tls ? { tls: { ...tls.server, clientCa: tls.ca }, outgoing: { ca: tls.ca, client: tls.client } } : {};
  const tlsFlags = tls
    ? ['--tls-cert', tls.server.cert, '--tls-key', tls.server.key, '--tls-client-ca', tls.ca, '--ca-file', tls.ca, '--client-cert', tls.client.cert, '--client-key', tls.client.key]
    : [];
  // The real chart with its retry delays cut to 100ms, so a failing backup unwinds in a moment.
  const zoneChart = join(root, 'backup-and-encrypt.yaml');
  await writeFile(zoneChart, (await readFile(ZONE_CHART_FILE, 'utf8')).replace(/delay: \d+[sm]\b/g, 'delay: 100ms'));
  const zoneValues = join(root, 'zone-values.yaml');
  await writeFile(zoneValues, `environment: [${pg.connectionArgs.password_env ?? ''}]\n`);
  const configFile = join(root, 'backup-controller.yaml');
  await writeFile(configFile, `# written by test/backup/support/world.ts
jobs:
  url: ${jobs.url}
zones:
  ${ZONE_NAME}:
    url: ${zoneUrl}
    token: { env: ${ZONE_TOKEN_ENV} }
results_token: { env: ${RESULTS_TOKEN_ENV} }
timeouts: { job_service: 2s, zone: 5s, answer: 10s }
calls: ${options.calls ?? '{ retries: 1, retry_delay: 50ms, breaker_failures: 2, half_open_after: 500ms }'}
`);
  return {
    pg, gpg, jobs, root, storage, controllerUrl, controllerPort, zoneUrl, zonePort, env, tlsFlags, configFile, zoneValues,
    job(id, overrides = {}) {
      return {
        id, status: 'approved', inForce: { from: '2026-01-01', to: null }, zone: ZONE_NAME, client: 'acme', eoyMonth: 6,
        keyName: gpg.recipient, description: 'nightly sales backup', owner: 'finance',
        source: { host: pg.host, port: pg.port, user: pg.user, database, ...(pg.connectionArgs.password_env ? { passwordEnv: pg.connectionArgs.password_env } : {}) },
        ...overrides,
      };
    },
    startZone() {
      return startZoneServer({
        name: ZONE_NAME, storageRoot: storage, dataDir: join(root, 'zone-data'), port: zonePort, host: '127.0.0.1',
        controllerUrl, token: { env: ZONE_TOKEN_ENV }, controllerToken: { env: RESULTS_TOKEN_ENV }, gnupgHome: gpg.home,
        resendMaxDelayMs: 300, chartFile: zoneChart, valuesFile: zoneValues, log: log(), ...serverTls,
      });
    },
    spawnZone() {
      return spawnZone(['--name', ZONE_NAME, '--storage', storage, '--data', join(root, 'zone-data'), '--port', String(zonePort),
        '--controller', controllerUrl, '--token-env', ZONE_TOKEN_ENV, '--controller-token-env', RESULTS_TOKEN_ENV,
        '--gnupg-home', gpg.home, '--chart', zoneChart, '--values', zoneValues, '--resend-max-delay', '300ms', '--log-level', 'warn', ...tlsFlags], env);
    },
    startController(dataDir = join(root, 'controller-data'), chartPath = 'charts/backup-request.yaml') {
      return startServer({
        chartPaths: [chartPath], dataDir, port: controllerPort, host: '127.0.0.1', log: log(), backupConfig: configFile, ...serverTls,
      });
    },
    async storedBackups() {
      const longTerm = join(storage, 'long_term');
      const entries = await readdir(longTerm, { recursive: true, withFileTypes: true }).catch(() => []);
      return entries.filter((entry) => entry.isFile()).map((entry) => relative(longTerm, join(entry.parentPath, entry.name))).sort();
    },
    async cleanup() {
      await Promise.all([pg.stop(), gpg.cleanup(), jobs.stop()]);
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface ZoneChild {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs `chartd zone ARGS` and waits until it listens. */
export async function spawnZone(args: string[], env: Record<string, string>): Promise<ZoneChild> {
  const child = spawn(process.execPath, [CLI, 'zone', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (/listening on http/.test(stdout)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`chartd zone exited with ${code} before listening:\n${stderr}`)));
  });
  return {
    child, stderr: () => stderr,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}


/** Polls `read` until `done` holds or `ms` pass; returns the last value read. */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 20_000, every = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

export interface RequestBody {
  apiVersion?: string;
  backupJobId?: string;
  dataDate?: string;
  sourcePath?: string;
}

export async function postRequest(url: string, body: RequestBody, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${url}/backup-requests`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<any> {
  const response = await fetch(url, { headers });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}
