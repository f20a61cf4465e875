// backup-and-encrypt runs that meet in time: created in the same second, one after another and side by side.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type Engine } from '../../src/main.js';
import { BACKUP_CHART, listFiles } from '../support/backupRun.js';
import { SimulatedClock } from '../support/clock.js';
import { makeGpgHome, type GpgHome } from '../support/gpg.js';
import { createSampleDatabase, startPostgres, type PostgresServer } from '../support/postgres.js';
import { capturingLogger, removeDir, tempDir } from '../support/server.js';
import { until } from '../support/wait.js';

let pg: PostgresServer;
let gpg: GpgHome;
let root: string;
let dataDir: string;
let valuesDir: string;
let engine: Engine;

beforeAll(async () => {
  [pg, gpg, root, dataDir, valuesDir] = await Promise.all([startPostgres(), makeGpgHome(), tempDir('chartd-storage-'), tempDir('chartd-data-'), tempDir('chartd-values-')]);
  await createSampleDatabase(pg, 'sales');
  const { password_env: passwordEnv } = pg.connectionArgs;
  const values = join(valuesDir, 'values.yaml');
  await writeFile(values, JSON.stringify({
    ...(passwordEnv ? { environment: [passwordEnv] } : {}),
    charts: { 'backup-and-encrypt': { storage_root: root, postgresql_host: pg.host, postgresql_port: pg.port, postgresql_user: pg.user, gnupg_home: gpg.home, ...(passwordEnv ? { password_env: passwordEnv } : {}) } },
  }));
  // The clock never moves: every instance is created in the same second.
  engine = await startEngine({ chartPaths: [BACKUP_CHART], dataDir, log: capturingLogger().log, clock: new SimulatedClock(), valuesFile: values });
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await Promise.all([pg?.stop(), gpg?.cleanup(), root && removeDir(root), dataDir && removeDir(dataDir), valuesDir && removeDir(valuesDir)]);
});

const CONTEXT = { client_name: 'acme', database: 'sales', eoy_month: 6 };

async function backup(id: string): Promise<void> {
  await engine.runtime.create('backup-and-encrypt', id, { ...CONTEXT, key_name: gpg.recipient });
  await until(async () => (await engine.runtime.snapshot('backup-and-encrypt', id)).status === 'done', `backup ${id}`, 60_000, 20);
  expect((await engine.runtime.snapshot('backup-and-encrypt', id)).failures).toEqual([]);
}

describe('backups created in the same second', () => {
  it('one after another and side by side, each succeeds and writes its own file, and none leaves anything behind', async () => {
    await backup('first');
    await backup('again');
    await Promise.all([backup('left'), backup('right')]);
    const stamps = await Promise.all(['first', 'again', 'left', 'right'].map(async (id) => (await engine.runtime.snapshot('backup-and-encrypt', id)).createdAt));
    expect(new Set(stamps).size).toBe(1);
    const files = await listFiles(root);
    expect(files).toEqual(['again', 'first', 'left', 'right'].map((id) => `long_term/acme/sales/FY2027/20261122T060000Z-${id}.tar.gz.gpg`));
  });
});
