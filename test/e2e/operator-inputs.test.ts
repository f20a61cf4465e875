// A client chooses only what a chart lets it: never where chartd connects, which variable it reads or where it writes.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartVersion } from '../../src/chart/load.js';
import { CHART_VERSIONS } from '../../src/runtime/catalog.js';
import { INSTANCES } from '../../src/runtime/runtime.js';
import { startServer } from '../../src/servers.js';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import { removeDir, startTestServer, tempDir, writeCharts, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

/** A plain TCP listener on loopback standing in for a PostgreSQL server: it counts connections and closes them. */
interface FakePostgres {
  readonly port: number;
  readonly connections: () => number;
  close(): Promise<void>;
}

async function fakePostgres(): Promise<FakePostgres> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function post(server: TestServer, chart: string, body: unknown): Promise<{ status: number; body: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const answer = await fetch(`${server.url}/charts/${chart}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: answer.status, body: (await answer.json()) as never };
}

interface Instance {
  state: string;
  status: string;
  settings?: Record<string, unknown>;
  history: { cause: string; error?: string }[];
  failures: { node: string; error: string }[];
}

async function instance(server: TestServer, chart: string, id: string): Promise<Instance> {
  return (await (await fetch(`${server.url}/charts/${chart}/instances/${id}`)).json()) as Instance;
}

async function finished(server: TestServer, chart: string, id: string): Promise<Instance> {
  await until(async () => (await instance(server, chart, id)).status === 'done', `${chart}/${id} to finish`, 10_000);
  return instance(server, chart, id);
}

const BACKUP = { client_name: 'acme', database: 'sales', eoy_month: 6, key_name: 'nobody@chartd.invalid' };

describe('backup-and-encrypt served with the operator\'s values', () => {
  let server: TestServer;
  let operators: FakePostgres;
  let clients: FakePostgres;
  let dataDir: string;
  let work: string;

  beforeAll(async () => {
    [operators, clients] = await Promise.all([fakePostgres(), fakePostgres()]);
    [dataDir, work] = await Promise.all([tempDir('chartd-inputs-data-'), tempDir('chartd-inputs-')]);
    await writeFile(join(work, 'values.yaml'), `charts:
  backup-and-encrypt:
    storage_root: ${join(work, 'storage')}
    postgresql_host: 127.0.0.1
    postgresql_port: ${operators.port}
`);
    server = await startTestServer({ chartDir: 'charts', dataDir, valuesFile: join(work, 'values.yaml') });
  });

  afterAll(async () => {
    await server?.close();
    await Promise.all([operators?.close(), clients?.close(), removeDir(dataDir), removeDir(work)]);
  });

  it.each([
    ['postgresql_host and postgresql_port', () => ({ postgresql_host: '127.0.0.1', postgresql_port: clients.port })],
    ['password_env', () => ({ password_env: 'CHARTD_TEST_ZONE_TOKEN' })],
    ['storage_root', () => ({ storage_root: join(work, 'elsewhere') })],
    ['gnupg_home', () => ({ gnupg_home: '/root/.gnupg' })],
  ])('a context with %s is refused with 400, and nothing is stored', async (what, extra) => {
    const id = `with-${what.split(' ')[0]}`;
    const answer = await post(server, 'backup-and-encrypt', { id, context: { ...BACKUP, ...extra() } });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('context_invalid');
    const keys = Object.keys(extra());
    expect(answer.body.error?.message).toContain(`context may not set ${keys.join(', ')}: the operator binds ${keys.length === 1 ? 'it' : 'them'} as the chart's settings (--values FILE), never a request`);
    expect((await fetch(`${server.url}/charts/backup-and-encrypt/instances/${id}`)).status).toBe(404);
  });

  it('a body with settings is refused with 400, and nothing is stored', async () => {
    const answer = await post(server, 'backup-and-encrypt', { id: 'with-settings', context: BACKUP, settings: { postgresql_port: clients.port } });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.message).toContain('unknown field(s) in body: settings');
    expect((await fetch(`${server.url}/charts/backup-and-encrypt/instances/with-settings`)).status).toBe(404);
    const list = (await (await fetch(`${server.url}/charts/backup-and-encrypt/instances`)).json()) as { instances: unknown[] };
    expect(list.instances).toEqual([]);
  });

  it('a client-created instance connects where the operator said, never where the client would', async () => {
    expect((await post(server, 'backup-and-encrypt', { id: 'nightly', context: BACKUP })).status).toBe(201);
    await until(() => operators.connections() > 0, "pg_dump's connection to the operator's server", 10_000);
    const snapshot = await instance(server, 'backup-and-encrypt', 'nightly');
    expect(snapshot.settings).toEqual({
      storage_root: join(work, 'storage'), postgresql_host: '127.0.0.1', postgresql_port: operators.port, postgresql_user: 'postgres', password_env: '', gnupg_home: '',
    });
    expect(clients.connections()).toBe(0);
  });
});

describe('charts that let a client name part of a path or a variable', () => {
  const CHARTS = {
    'escape.yaml': `chart: escape
initial: make
context:
  type: object
  properties:
    name: { type: string, pattern: "^.*$" }   # a pattern that lets anything through
  required: [name]
settings:
  type: object
  properties:
    root: { type: string }
  required: [root]
states:
  make:
    run: fs.makeDir
    with: { path: "{{settings.root}}/{{name}}" }
    retry: { attempts: 3, delay: 10s }
    on_success: made
    on_failure: refused
  made: { final: true }
  refused: { final: true }
`,
    'peek.yaml': `chart: peek
initial: dump
context:
  type: object
  properties:
    variable: { type: string, pattern: "^[A-Z_]+$" }
  required: [variable]
settings:
  type: object
  properties:
    port: { type: integer }
    root: { type: string }
  required: [port, root]
states:
  dump:
    run: pg.dumpSchema
    with: { host: 127.0.0.1, port: "{{settings.port}}", database: sales, file: "{{settings.root}}/schema.sql", password_env: "{{variable}}" }
    retry: { attempts: 3, delay: 10s }
    on_success: done
    on_failure: done
  done: { final: true }
`,
  };
  const SECRET = 'a-token-chartd-holds-for-itself';
  let server: TestServer;
  let postgres: FakePostgres;
  let chartDir: string;
  let dataDir: string;
  let work: string;
  let root: string;

  beforeAll(async () => {
    postgres = await fakePostgres();
    [chartDir, dataDir, work] = await Promise.all([tempDir('chartd-inputs-charts-'), tempDir('chartd-inputs-data-'), tempDir('chartd-inputs-')]);
    root = join(work, 'root');
    await mkdir(root);
    await writeCharts(chartDir, CHARTS);
    process.env['CHARTD_TEST_SERVER_SECRET'] = SECRET;
    process.env['CHARTD_TEST_ALLOWED_PASSWORD'] = 'allowed';
    await writeFile(join(work, 'values.yaml'), `environment: [CHARTD_TEST_ALLOWED_PASSWORD]
charts:
  escape: { root: ${root} }
  peek: { port: ${postgres.port}, root: ${work} }
`);
    server = await startTestServer({ chartDir, dataDir, valuesFile: join(work, 'values.yaml') });
  });

  afterAll(async () => {
    await server?.close();
    delete process.env['CHARTD_TEST_SERVER_SECRET'];
    delete process.env['CHARTD_TEST_ALLOWED_PASSWORD'];
    await Promise.all([postgres?.close(), removeDir(chartDir), removeDir(dataDir), removeDir(work)]);
  });

  it('a path the pattern let climb out of its root fails the step at once, before the handler runs', async () => {
    expect((await post(server, 'escape', { id: 'out', context: { name: '../outside' } })).status).toBe(201);
    const snapshot = await finished(server, 'escape', 'out');
    expect(snapshot.state).toBe('refused');
    // One attempt of three: no retry can move the path back inside.
    expect(snapshot.history.map((entry) => entry.cause)).toEqual(['create', 'failure']);
    expect(snapshot.failures[0]?.error).toBe(`path resolves to ${join(work, 'outside')}, outside its root ${root}; refusing to run fs.makeDir`);
    expect(await readdir(work)).toEqual(['root', 'values.yaml']);

    expect((await post(server, 'escape', { id: 'in', context: { name: 'inside' } })).status).toBe(201);
    expect((await finished(server, 'escape', 'in')).state).toBe('made');
    expect(await readdir(root)).toEqual(['inside']);
  });

  it('a variable off the allow-list fails the step at once, without starting pg_dump, and its value goes nowhere', async () => {
    expect((await post(server, 'peek', { id: 'secret', context: { variable: 'CHARTD_TEST_SERVER_SECRET' } })).status).toBe(201);
    const snapshot = await finished(server, 'peek', 'secret');
    expect(snapshot.history.map((entry) => entry.cause)).toEqual(['create', 'failure']);
    expect(snapshot.failures[0]?.error).toBe('pg.dumpSchema: environment variable CHARTD_TEST_SERVER_SECRET (password_env) is not on the allow-list: add it to environment: in the --values file');
    expect(JSON.stringify(snapshot)).not.toContain(SECRET);
    expect(postgres.connections()).toBe(0);

    // The same chart with an allowed variable does start pg_dump, so the count above could have moved.
    expect((await post(server, 'peek', { id: 'allowed', context: { variable: 'CHARTD_TEST_ALLOWED_PASSWORD' } })).status).toBe(201);
    await until(() => postgres.connections() > 0, "pg_dump's connection", 10_000);
  });
});

describe('an instance stored by an earlier chartd on a version that let a client choose its host', () => {
  const OLD = `chart: dump
initial: dump
context: { type: object, properties: { host: { type: string } }, required: [host] }
states:
  dump:
    run: pg.dumpSchema
    with: { host: "{{host}}", database: sales, file: /tmp/chartd-never-written.sql }
    on_success: done
    on_failure: done
  done: { final: true }
`;
  const NEW = OLD.replace('properties: { host: { type: string } }, required: [host] }', 'properties: {} }\nsettings: { type: object, properties: { host: { type: string } }, required: [host] }').replace('"{{host}}"', '"{{settings.host}}"');

  it('is left as it is, with a warning, and the server starts without running its step', async () => {
    const [chartDir, dataDir] = await Promise.all([tempDir('chartd-inputs-charts-'), tempDir('chartd-inputs-data-')]);
    const postgres = await fakePostgres();
    try {
      const store = await openLowdbStore(dataDir);
      const version = chartVersion(OLD);
      const at = new Date().toISOString();
      await store.commit([
        { collection: CHART_VERSIONS, key: `dump@${version}`, value: { name: 'dump', version, file: 'dump.yaml', source: OLD, archivedAt: at } },
        { collection: INSTANCES, key: 'dump/old', value: {
          chart: 'dump', version, id: 'old', state: 'dump', status: 'active', context: { host: `127.0.0.1 port=${postgres.port}` }, counter: 0, callers: [],
          deadline: null, attempt: 1, revision: 1, enteredAt: at, createdAt: at, updatedAt: at, history: [], failures: [],
        } },
      ]);
      await store.close();
      await writeCharts(chartDir, { 'dump.yaml': NEW });
      const lines: string[] = [];
      const log = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _, done) => done(void lines.push(chunk.toString())) }));
      const server = await startServer({ chartPaths: [chartDir], dataDir, port: 0, host: '127.0.0.1', log });
      try {
        expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(expect.objectContaining({
          chart: 'dump', instance: 'old', version, msg: 'instance runs on a chart version that no longer loads; left as it is',
          err: expect.stringContaining('host is operator-owned (target: where chartd connects)'),
        }));
        expect((await server.engine.store.get<{ state: string; revision: number }>(INSTANCES, 'dump/old'))?.value).toMatchObject({ state: 'dump', revision: 1 });
        expect(postgres.connections()).toBe(0);
      } finally {
        await server.close();
      }
    } finally {
      await Promise.all([postgres.close(), removeDir(chartDir), removeDir(dataDir)]);
    }
  });
});
