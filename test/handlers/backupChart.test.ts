// charts/backup-and-encrypt.yaml loaded by the real loader and walked with the real handlers, PostgreSQL, tar and gpg.

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChartFile } from '../../src/chart/load.js';
import { edgesOf, type Chart } from '../../src/chart/model.js';
import { renderValue } from '../../src/chart/template.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import { runCommand } from '../../src/handlers/exec.js';
import { createRegistry } from '../../src/handlers/registry.js';
import { makeGpgHome, type GpgHome } from '../support/gpg.js';
import { compareTables, createDatabase, createSampleDatabase, restoreFile, startPostgres, type PostgresServer } from '../support/postgres.js';
import { makeStepContext } from '../support/stepContext.js';
import { SEED_PATHS } from '../support/seedBackup.js';

const registry = createRegistry(builtinHandlers());
const CREATED = '2026-11-22T06:03:02.417Z';
let chart: Chart;
let pg: PostgresServer;
let gpg: GpgHome;
let work: string;

beforeAll(async () => {
  chart = await loadChartFile('charts/backup-and-encrypt.yaml', { handlers: registry });
  [pg, gpg] = await Promise.all([startPostgres(), makeGpgHome()]);
  await createSampleDatabase(pg, 'sales');
  work = await mkdtemp(join(tmpdir(), 'chartd-backup-'));
}, 120_000);
afterAll(async () => {
  await Promise.all([pg?.stop(), gpg?.cleanup(), work && rm(work, { recursive: true, force: true })]);
});


const CLEANUP = ['remove_encrypted_backup', 'remove_tarball', 'remove_data_file', 'remove_schema_file', 'remove_pg_dump_directory', 'remove_intermediate_directory', 'report_results'];

interface Inputs {
  readonly context: Record<string, unknown>;
  readonly settings: Record<string, unknown>;
}

/** The client's context and the operator's settings of one backup, each validated as an instance's would be (defaults filled in). */
function makeInputs(storageRoot: string, overrides: Record<string, unknown> = {}): Inputs {
  const values: Record<string, unknown> = { client_name: 'acme', database: 'sales', postgresql_host: pg.host, postgresql_port: pg.port, postgresql_user: pg.user,
    storage_root: storageRoot, eoy_month: 6, key_name: gpg.recipient, gnupg_home: gpg.home, ...overrides };
  const ajv = new Ajv({ useDefaults: true, strict: false });
  const pick = (schema: Record<string, unknown> | undefined): Record<string, unknown> => {
    const keys = Object.keys((schema?.['properties'] ?? {}) as object);
    const picked = Object.fromEntries(Object.entries(values).filter(([key]) => keys.includes(key)));
    const validate = ajv.compile(schema ?? {});
    if (!validate(picked)) throw new Error(JSON.stringify(validate.errors));
    return picked;
  };
  return { context: pick(chart.context), settings: pick(chart.settings) };
}

/** Runs the chart from its initial state to a final one, as the runtime would, without retries. */
async function walk({ context, settings }: Inputs): Promise<{ visited: string[]; failures: string[] }> {
  const visited: string[] = [];
  const failures: string[] = [];
  for (let name = chart.initial; ;) {
    visited.push(name);
    const state = chart.states[name];
    if (!state || state.kind === 'final') return { visited, failures };
    if (state.kind !== 'step') throw new Error(`${name} is not a step`);
    const args = renderValue(state.with, { context, settings, instance: { id: 'default', created: CREATED } }) as Record<string, unknown>;
    try {
      await registry.get(state.run)!.run(args, makeStepContext({ state: name }));
      name = state.onSuccess;
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`);
      name = state.onFailure;
    }
  }
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.map((entry) => relative(root, join(entry.parentPath, entry.name)) + (entry.isDirectory() ? '/' : '')).sort();
}

describe('charts/backup-and-encrypt.yaml', () => {
  it('has the seed machine node for node, with a description on every state', () => {
    expect(chart.initial).toBe('create_intermediate_directory');
    expect(Object.keys(chart.states).sort()).toEqual([...Object.keys(SEED_PATHS), 'report_results'].sort());
    for (const [name, [happy, unhappy]] of Object.entries(SEED_PATHS)) {
      const edges = edgesOf(chart.states[name]!);
      expect(edges.map((edge) => [edge.kind, edge.to]), name).toEqual([['happy', happy], ['unhappy', unhappy]]);
    }
    expect(chart.states['report_results']?.kind).toBe('final');
    for (const state of Object.values(chart.states)) expect(state.description, state.name).toBeTruthy();
  });

  it('takes only what a backup is of from the client; where it connects, reads and writes comes from the operator', () => {
    expect(Object.keys((chart.context?.['properties'] ?? {}) as object)).toEqual(['client_name', 'database', 'eoy_month', 'key_name']);
    expect(Object.keys((chart.settings?.['properties'] ?? {}) as object).sort())
      .toEqual(['gnupg_home', 'password_env', 'postgresql_host', 'postgresql_port', 'postgresql_user', 'storage_root']);
  });

  it('prefixes failures with client, host and database', () => {
    expect(renderValue(chart.failurePrefix, { ...makeInputs('/srv'), instance: { id: 'default', created: CREATED } })).toBe(`acme ${pg.host} sales`);
  });

  it('happy path: leaves only the encrypted backup, in its fiscal-year directory, and it restores', async () => {
    const root = await mkdtemp(join(work, 'happy-'));
    const { visited, failures } = await walk(makeInputs(root));
    expect(failures).toEqual([]);
    expect(visited).toEqual(['create_intermediate_directory', 'create_pg_dump_directory', 'backup_schema', 'backup_data', 'compress', 'encrypt',
      'create_storage_directory', 'move_backup', ...CLEANUP]);
    // November with a June year end falls in FY2027.
    expect(await listFiles(root)).toEqual([
      'intermediate/', 'intermediate/acme/', 'intermediate/acme/sales/', 'long_term/', 'long_term/acme/', 'long_term/acme/sales/', 'long_term/acme/sales/FY2027/',
      'long_term/acme/sales/FY2027/20261122T060302Z-default.tar.gz.gpg',
    ]);

    const out = await mkdtemp(join(work, 'restore-'));
    await gpg.decrypt(join(root, 'long_term/acme/sales/FY2027/20261122T060302Z-default.tar.gz.gpg'), join(out, 'backup.tar.gz'));
    await runCommand('tar', ['--extract', `--file=${join(out, 'backup.tar.gz')}`, `--directory=${out}`]);
    await createDatabase(pg, 'sales_from_backup');
    await restoreFile(pg, 'sales_from_backup', join(out, '20261122T060302Z', 'schema.sql'));
    await restoreFile(pg, 'sales_from_backup', join(out, '20261122T060302Z', 'data.sql'));
    expect(await compareTables(pg, 'sales', 'sales_from_backup')).toEqual([]);
  });

  it('unknown key: encryption fails, and the cleanup chain leaves no unencrypted data behind', async () => {
    const root = await mkdtemp(join(work, 'nokey-'));
    const { visited, failures } = await walk(makeInputs(root, { key_name: 'nobody@chartd.invalid' }));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/^encrypt: gpg\.encrypt: no usable public key for recipient "nobody@chartd\.invalid"/);
    expect(visited.slice(visited.indexOf('encrypt'))).toEqual(['encrypt', ...CLEANUP]);
    expect(await listFiles(root)).toEqual(['intermediate/', 'intermediate/acme/', 'intermediate/acme/sales/']);
  });

  it('unknown database: the schema dump fails and the run unwinds from there', async () => {
    const root = await mkdtemp(join(work, 'nodb-'));
    const { visited, failures } = await walk(makeInputs(root, { database: 'no_such_db' }));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('backup_schema: pg.dumpSchema: pg_dump exited with code 1');
    expect(failures[0]).toContain('database "no_such_db" does not exist');
    expect(visited).toEqual(['create_intermediate_directory', 'create_pg_dump_directory', 'backup_schema',
      'remove_schema_file', 'remove_pg_dump_directory', 'remove_intermediate_directory', 'report_results']);
    expect(await listFiles(root)).toEqual(['intermediate/', 'intermediate/acme/', 'intermediate/acme/no_such_db/']);
  });
});
