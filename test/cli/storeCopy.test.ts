// `chartd store copy` and `chartd store verify` as an operator runs them: a data directory a real server wrote, a real PostgreSQL.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import type { Store } from '../../src/store/port.js';
import { readAll } from '../../src/store/readAll.js';
import { runChartd, spawnServer, type ChildServer } from '../support/child.js';
import { createDatabase, databaseUrl, PASSWORD_ROLE, startPostgres, type PostgresServer } from '../support/postgres.js';
import { removeDir, tempDir } from '../support/server.js';
import { until } from '../support/wait.js';

const GATES = `chart: gates
initial: first
states:
  first:
    gate: { count: 2, distinct: true }
    next: second
  second:
    gate: { count: 1 }
    next: done
  done: { final: true }
`;
const APPLIED = `chart: applied
initial: waiting
states:
  waiting:
    gate: { count: 1 }
    next: done
  done: { final: true }
`;
// fs.removeFile refuses a directory, so the step fails at once and the failure raises an alert.
const ALERTING = `chart: alerting
initial: remove
settings:
  type: object
  properties:
    root: { type: string }
  required: [root]
states:
  remove:
    run: fs.removeFile
    with: { path: "{{settings.root}}/a-directory" }
    on_success: done
    on_failure: failed
  done: { final: true }
  failed: { final: true }
`;

let postgres: PostgresServer;
let root: string;
let charts: string;
let data: string;
let databases = 0;

async function freshDatabase(): Promise<string> {
  const name = `copy_${process.pid}_${(databases += 1)}`;
  await createDatabase(postgres, name);
  return databaseUrl(postgres, name);
}

function serve(dir: string): Promise<ChildServer> {
  return spawnServer(['--chart', charts, '--data', dir, '--values', join(root, 'values.yaml'), '--alert-webhook', 'http://127.0.0.1:9/alerts']);
}

async function call(server: ChildServer, method: string, path: string, body?: string, type = 'application/json'): Promise<Response> {
  return fetch(server.url + path, { method, headers: { 'content-type': type }, ...(body !== undefined && { body }) });
}

/** Every document of every collection of the data directory `dir`, by collection. */
async function documentsIn(dir: string): Promise<Record<string, unknown[]>> {
  const store = await openLowdbStore(dir);
  try {
    return await everything(store);
  } finally {
    await store.close();
  }
}

async function everything(store: Store): Promise<Record<string, unknown[]>> {
  const found: Record<string, unknown[]> = {};
  for (const collection of await store.collections()) found[collection] = await readAll(store, collection);
  return found;
}

beforeAll(async () => {
  postgres = await startPostgres();
  root = await tempDir('chartd-copy-');
  charts = join(root, 'charts');
  data = join(root, 'data');
  await mkdir(join(root, 'a-directory'), { recursive: true });
  await mkdir(charts);
  await writeFile(join(charts, 'gates.yaml'), GATES);
  await writeFile(join(charts, 'alerting.yaml'), ALERTING);
  await writeFile(join(root, 'values.yaml'), `charts: { alerting: { root: ${JSON.stringify(root)} } }\n`);
  const server = await serve(data);
  try {
    expect((await call(server, 'PUT', '/charts/applied', APPLIED, 'application/yaml')).status).toBe(201);
    for (const id of ['n1', 'n2', 'n3']) expect((await call(server, 'POST', '/charts/gates/instances', JSON.stringify({ id }))).status).toBe(201);
    for (const by of ['web-1', 'web-2']) expect((await call(server, 'PUT', `/charts/gates/instances/n1/state?state=first&by=${by}`)).status).toBe(200);
    expect((await call(server, 'PUT', '/charts/gates/instances/n1/state?state=second')).status).toBe(200);
    expect((await call(server, 'POST', '/charts/applied/instances', JSON.stringify({ id: 'a1' }))).status).toBe(201);
    expect((await call(server, 'POST', '/charts/alerting/instances', JSON.stringify({ id: 'broken' }))).status).toBe(201);
    await until(async () => ((await (await call(server, 'GET', '/charts/alerting/instances/broken')).json()) as { state: string }).state === 'failed');
  } finally {
    await server.kill();
  }
}, 180_000);

afterAll(async () => {
  await postgres?.stop();
  if (root) await removeDir(root);
});

describe('chartd store copy', () => {
  it('copies a data directory into PostgreSQL and back: the same documents, and a server on the copy answers as the first', async () => {
    const url = await freshDatabase();
    const there = await runChartd(['store', 'copy', '--from', data, '--to', url]);
    expect(there.stderr).toMatch(/copied \d+ of \d+ history/);
    expect(there.code).toBe(0);
    for (const collection of ['alerts', 'chart-versions', 'charts', 'history', 'instances', 'migrations']) expect(there.stdout).toMatch(new RegExp(`^${collection} .* same$`, 'm'));
    expect(there.stdout).toMatch(/every count and checksum matches/);

    const back = join(root, 'back');
    const again = await runChartd(['store', 'copy', '--from', url, '--to', back]);
    expect(again.code).toBe(0);
    const original = await documentsIn(data);
    expect(Object.keys(original)).toEqual(['alerts', 'chart-versions', 'charts', 'history', 'instances', 'migrations']);
    expect(original['alerts']).toHaveLength(1);
    expect(await documentsIn(back)).toEqual(original);

    const server = await serve(back);
    try {
      const instance = (await (await call(server, 'GET', '/charts/gates/instances/n1')).json()) as { state: string; history: unknown[] };
      expect(instance.state).toBe('done');
      expect(instance.history.length).toBeGreaterThanOrEqual(2);
      expect((await call(server, 'PUT', '/charts/applied/instances/a1/state?state=waiting')).status).toBe(200);
    } finally {
      await server.kill();
    }
  }, 60_000);

  it('refuses a target that holds documents, changing nothing, and with --force replaces what it holds', async () => {
    const url = await freshDatabase();
    expect((await runChartd(['store', 'copy', '--from', data, '--to', url])).code).toBe(0);
    const database = new URL(url).pathname.slice(1);
    await postgres.psql(database, "INSERT INTO chartd.documents (collection, key, value, revision) VALUES ('stray', 'x', '1', 1)");
    const refused = await runChartd(['store', 'copy', '--from', data, '--to', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is not empty \(alerts: 1, .*stray: 1\); nothing was copied\. Give --force/);
    expect((await postgres.psql(database, "SELECT count(*) FROM chartd.documents WHERE collection = 'stray'")).trim()).toBe('1');

    const forced = await runChartd(['store', 'copy', '--from', data, '--to', url, '--force']);
    expect(forced.code).toBe(0);
    expect((await postgres.psql(database, "SELECT count(*) FROM chartd.documents WHERE collection = 'stray'")).trim()).toBe('0');
    expect((await runChartd(['store', 'verify', '--from', data, '--to', url])).code).toBe(0);

    // Into a data directory too: refused while it holds documents, replaced with --force.
    const dir = join(root, 'forced');
    expect((await runChartd(['store', 'copy', '--from', url, '--to', dir])).code).toBe(0);
    expect((await runChartd(['store', 'copy', '--from', url, '--to', dir])).stderr).toMatch(/data directory .*forced is not empty/);
    expect((await runChartd(['store', 'copy', '--from', url, '--to', dir, '--force'])).code).toBe(0);
    expect(await documentsIn(dir)).toEqual(await documentsIn(data));
  }, 60_000);

  it('verify catches a document changed or removed in the target after the copy, naming its collection', async () => {
    const url = await freshDatabase();
    expect((await runChartd(['store', 'copy', '--from', data, '--to', url])).code).toBe(0);
    const database = new URL(url).pathname.slice(1);
    expect((await runChartd(['store', 'verify', '--from', data, '--to', url])).code).toBe(0);

    // Same count, one value changed by a single character.
    await postgres.psql(database, "UPDATE chartd.documents SET value = replace(value::text, '\"done\"', '\"dona\"')::json WHERE collection = 'instances' AND key = 'gates/n1'");
    const changed = await runChartd(['store', 'verify', '--from', data, '--to', url]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/^instances .* DIFFERS$/m);
    expect(changed.stdout).toMatch(/^history .* same$/m);
    expect(changed.stderr).toMatch(/differs from data directory .* in instances$/m);

    await postgres.psql(database, "DELETE FROM chartd.documents WHERE collection = 'alerts'");
    const removed = await runChartd(['store', 'verify', '--from', data, '--to', url]);
    expect(removed.code).toBe(1);
    expect(removed.stdout).toMatch(/^alerts +1 \/ 0 +[0-9a-f]{16} \/ 0{16} +DIFFERS$/m);
    expect(removed.stderr).toMatch(/ in alerts, instances$/m);
  }, 60_000);

  it('refuses a data directory a server runs on, as source or target, with the lock\'s message, touching neither store', async () => {
    const url = await freshDatabase();
    const server = await serve(data);
    try {
      const inUse = new RegExp(`data directory .*data is in use by chartd \\(pid ${server.child.pid},`);
      const from = await runChartd(['store', 'copy', '--from', data, '--to', url]);
      expect([from.code, from.stderr]).toEqual([1, expect.stringMatching(inUse)]);
      const into = await runChartd(['store', 'copy', '--from', url, '--to', data, '--force']);
      expect([into.code, into.stderr]).toEqual([1, expect.stringMatching(inUse)]);
    } finally {
      await server.kill();
    }
    expect((await postgres.psql(new URL(url).pathname.slice(1), "SELECT count(*) FROM chartd.documents")).trim()).toBe('0');
    expect(Object.keys(await documentsIn(data))).toHaveLength(6);
  }, 60_000);

  it('refuses a database whose table another session keeps locked, as one in use', async () => {
    const url = await freshDatabase();
    // Opening the database makes the schema; the empty database differs from the data directory.
    expect((await runChartd(['store', 'verify', '--from', data, '--to', url])).code).toBe(1);
    const session = new pg.Client({ connectionString: url });
    await session.connect();
    try {
      await session.query('BEGIN');
      await session.query('LOCK TABLE chartd.documents IN ACCESS SHARE MODE');
      const refused = await runChartd(['store', 'copy', '--from', data, '--to', url]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/is in use \(a chartd serving on it\?\) and its table could not be locked within 5s: stop every replica on it/);
    } finally {
      await session.end();
    }
  }, 60_000);

  it('into PostgreSQL, lands whole or not at all: a document it cannot hold leaves the database as it was', async () => {
    const dir = join(root, 'unfit');
    const store = await openLowdbStore(dir);
    await store.commit(Array.from({ length: 2500 }, (_, at) => ({ collection: 'history', key: `h/${at}`, value: { at } })));
    await store.commit([{ collection: 'zeta', key: 'a\u0000b', value: 1 }]);
    await store.close();
    const url = await freshDatabase();
    await runChartd(['store', 'copy', '--from', data, '--to', url]);
    const failed = await runChartd(['store', 'copy', '--from', dir, '--to', url, '--force']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/copied 2500 of 2500 history/);
    expect(failed.stderr).toMatch(/a write's key must be a non-empty string of whole characters without NUL/);
    expect((await runChartd(['store', 'verify', '--from', data, '--to', url])).code).toBe(0);
  }, 60_000);

  it('never prints a password given in the URL, whether the copy works or the password is wrong', async () => {
    const password = 'S3cret-Pass_word';
    const url = await freshDatabase();
    const database = new URL(url).pathname.slice(1);
    await postgres.psql('postgres', `DROP ROLE IF EXISTS ${PASSWORD_ROLE}; CREATE ROLE ${PASSWORD_ROLE} LOGIN PASSWORD '${password}'`);
    await postgres.psql('postgres', `ALTER DATABASE ${database} OWNER TO ${PASSWORD_ROLE}`);
    const withPassword = (given: string) => `postgres://${PASSWORD_ROLE}:${given}@${postgres.host}:${postgres.port}/${database}`;

    const copied = await runChartd(['store', 'copy', '--from', data, '--to', withPassword(password)]);
    expect(copied.code).toBe(0);
    expect(copied.stdout).toContain(`to PostgreSQL at postgres://${PASSWORD_ROLE}:***@`);
    const wrong = await runChartd(['store', 'verify', '--from', withPassword('not-the-password'), '--to', data]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/password authentication failed/);
    const bad = await runChartd(['store', 'copy', '--from', data, '--to', `${withPassword(password)}?sslmode=sometimes`]);
    expect(bad.code).toBe(2);
    for (const output of [copied, wrong, bad]) expect(output.stdout + output.stderr).not.toMatch(/S3cret|not-the-password/);
  }, 60_000);
});

describe('chartd store copy: its command line', () => {
  it('names every problem at once, exit 2, and shows its options and an example', async () => {
    const usage = await runChartd(['store', 'copy', '--to', 'https://user:hidden@example/x', '--frm', 'x']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown option --frm \(did you mean '--from'\?\)/);
    expect(usage.stderr).toMatch(/--to is a https:\/\/ URL; give a data directory or postgres:/);
    expect(usage.stderr).toMatch(/copy needs --from STORE/);
    expect(usage.stderr).not.toContain('hidden');
    const same = await runChartd(['store', 'verify', '--from', data, '--to', `${data}/`]);
    expect([same.code, same.stderr]).toEqual([2, expect.stringMatching(/--from and --to name the same store/)]);
    const help = await runChartd(['store', 'copy', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--force +delete what the target holds before copying/);
    expect(help.stdout).toMatch(/Examples:\n {2}chartd store copy --from \/var\/lib\/chartd --to postgres:/);
  });
});
