// Test fixture: a real PostgreSQL server — PGURL's, or a throwaway cluster on a loopback port — plus sample data helpers.

import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { access, appendFile, chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { runCommand } from '../../src/handlers/exec.js';
import { quoteConnValue } from '../../src/handlers/pg.js';

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** PGHOST/PGPORT/PGUSER (and PGPASSWORD for a PGURL with one) for clients the tests run. */
  readonly connectionEnv: Readonly<Record<string, string>>;
  /** Connection arguments for the pg.* handlers (password_env names a variable this fixture set). */
  readonly connectionArgs: { host: string; port: number; user: string; password_env?: string };
  /** True for the throwaway cluster, whose pg_hba.conf puts PASSWORD_ROLE behind scram-sha-256. */
  readonly managed: boolean;
  psql(database: string, sql: string): Promise<string>;
  /** pg_ctl on the throwaway cluster (fast mode: sessions are ended, committed work is kept); throws for a PGURL server. */
  control(action: 'stop' | 'start' | 'restart'): Promise<void>;
  stop(): Promise<void>;
}

/** The one role the throwaway cluster authenticates by password (all others are trusted on loopback). */
export const PASSWORD_ROLE = 'chartd_pw';
const PGURL_PASSWORD_ENV = 'CHARTD_TEST_PGURL_PASSWORD';

export async function startPostgres(): Promise<PostgresServer> {
  const url = process.env['PGURL'];
  return url ? connectTo(url) : startThrowawayCluster();
}

function connectTo(pgurl: string): PostgresServer {
  const url = new URL(pgurl);
  const host = decodeURIComponent(url.hostname) || 'localhost';
  const port = Number(url.port || 5432);
  const user = decodeURIComponent(url.username) || 'postgres';
  const password = decodeURIComponent(url.password);
  const connectionEnv: Record<string, string> = { PGHOST: host, PGPORT: String(port), PGUSER: user };
  if (password) {
    connectionEnv['PGPASSWORD'] = password;
    process.env[PGURL_PASSWORD_ENV] = password;
  }
  const connectionArgs = password ? { host, port, user, password_env: PGURL_PASSWORD_ENV } : { host, port, user };
  const control = async (): Promise<void> => {
    throw new Error('PGURL names a server these tests do not own: they cannot stop or restart it');
  };
  return { host, port, user, connectionEnv, connectionArgs, managed: false, psql: makePsql(connectionEnv), control, stop: async () => {} };
}

async function startThrowawayCluster(): Promise<PostgresServer> {
  const bin = await findPostgresBin();
  const root = await mkdtemp(join(tmpdir(), 'chartd-pg-'));
  const data = join(root, 'data');
  const runAs = await userRunner(root);
  let started = false;
  const stopSync = (): void => {
    // Last resort if the test process exits without calling stop(): never leave a postgres running.
    if (started) spawnSync(runAs.file, runAs.prefix(join(bin, 'pg_ctl'), [`--pgdata=${data}`, '--mode=immediate', '--wait', 'stop']), { stdio: 'ignore', cwd: root });
    spawnSync('rm', ['-rf', '--', root], { stdio: 'ignore' });
  };
  process.once('exit', stopSync);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', stopSync);
    if (started) {
      started = false;
      await runAs.run(join(bin, 'pg_ctl'), [`--pgdata=${data}`, '--mode=immediate', '--wait', 'stop']).catch(() => undefined);
    }
    await rm(root, { recursive: true, force: true });
  };

  try {
    await runAs.run(join(bin, 'initdb'), [`--pgdata=${data}`, '--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    await writeFile(join(data, 'pg_hba.conf'), [
      'local all all trust',
      `host all ${PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256`,
      'host all all 127.0.0.1/32 trust',
      '',
    ].join('\n'));
    await appendFile(join(data, 'postgresql.conf'), [
      '',
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${root}'`,
      "password_encryption = 'scram-sha-256'",
      // A throwaway cluster: speed over durability.
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      '',
    ].join('\n'));
    const port = await startOnFreePort(runAs, bin, data, root);
    started = true;
    const connectionEnv = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres' };
    return {
      host: '127.0.0.1',
      port,
      user: 'postgres',
      connectionEnv,
      connectionArgs: { host: '127.0.0.1', port, user: 'postgres' },
      managed: true,
      psql: makePsql(connectionEnv),
      control: async (action) => {
        const log = action === 'stop' ? [] : [`--log=${join(root, 'server.log')}`];
        await runAs.run(join(bin, 'pg_ctl'), [`--pgdata=${data}`, ...log, '--mode=fast', '--wait', '--timeout=60', action]);
      },
      stop,
    };
  } catch (error) {
    const log = await readFile(join(root, 'server.log'), 'utf8').catch(() => '');
    await stop();
    throw new Error(`could not start a throwaway PostgreSQL: ${(error as Error).message}\n${log.split('\n').slice(-20).join('\n')}`, { cause: error });
  }
}

async function startOnFreePort(runAs: UserRunner, bin: string, data: string, root: string): Promise<number> {
  // The port is free when we look; another process may take it before postgres binds, so try again.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    await writeFile(join(data, 'postgresql.auto.conf'), `port = ${port}\n`);
    try {
      await runAs.run(join(bin, 'pg_ctl'), [`--pgdata=${data}`, `--log=${join(root, 'server.log')}`, '--wait', '--timeout=60', 'start']);
      return port;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

interface UserRunner {
  file: string;
  prefix(file: string, args: string[]): string[];
  run(file: string, args: string[]): Promise<void>;
}

/** initdb and postgres refuse to run as root, so as root they run as the `postgres` system user. */
async function userRunner(root: string): Promise<UserRunner> {
  if (process.getuid?.() !== 0) {
    return { file: '/usr/bin/env', prefix: (file, args) => [file, ...args], run: async (file, args) => void (await runCommand(file, args, { cwd: root })) };
  }
  const uid = Number((await runCommand('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await runCommand('id', ['-g', 'postgres'])).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('running as root, but there is no "postgres" system user');
  await chown(root, uid, gid);
  const useRunuser = await isExecutable('/usr/sbin/runuser') || await isExecutable('/sbin/runuser');
  const file = useRunuser ? 'runuser' : 'setpriv';
  const prefix = useRunuser
    ? (program: string, args: string[]) => ['-u', 'postgres', '--', program, ...args]
    : (program: string, args: string[]) => ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', program, ...args];
  return { file, prefix, run: async (program, args) => void (await runCommand(file, prefix(program, args), { cwd: root })) };
}

async function findPostgresBin(): Promise<string> {
  const candidates = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  candidates.push(...versions.sort((a, b) => Number(b) - Number(a)).map((version) => `/usr/lib/postgresql/${version}/bin`));
  for (const directory of candidates) {
    if (await isExecutable(join(directory, 'initdb')) && await isExecutable(join(directory, 'pg_ctl'))) return directory;
  }
  throw new Error('initdb not found on PATH or in /usr/lib/postgresql/*/bin; install postgresql (or set PGURL)');
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(() => true, () => false);
}

/** A port nothing listens on right now, on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function makePsql(connectionEnv: Readonly<Record<string, string>>): PostgresServer['psql'] {
  return async (database, sql) => {
    const args = ['--no-psqlrc', '--quiet', '--no-align', '--tuples-only', '--set=ON_ERROR_STOP=1', `--dbname=dbname=${quoteConnValue(database)}`, `--command=${sql}`];
    const { stdout } = await runCommand('psql', args, { env: { ...process.env, ...connectionEnv } });
    return stdout;
  };
}

/** Quotes an SQL identifier, so test databases may have hostile names. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A postgres:// URL of `database` on `pg` (with the PGURL's password, if it has one), or on `port` of its host (a proxy). */
export function databaseUrl(pg: PostgresServer, database: string, port = pg.port): string {
  const password = pg.connectionEnv['PGPASSWORD'];
  const credentials = encodeURIComponent(pg.user) + (password ? `:${encodeURIComponent(password)}` : '');
  const host = pg.host.includes(':') ? `[${pg.host}]` : pg.host;
  return `postgres://${credentials}@${host}:${port}/${encodeURIComponent(database)}`;
}

export async function createDatabase(pg: PostgresServer, name: string): Promise<void> {
  await pg.psql('postgres', `DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  await pg.psql('postgres', `CREATE DATABASE ${quoteIdent(name)}`);
}

export const SAMPLE_TABLES = ['customers', 'orders'] as const;

/** A database with a foreign key, quotes, newlines, a NULL and numerics — the things a dump must carry. */
export async function createSampleDatabase(pg: PostgresServer, name: string): Promise<void> {
  await createDatabase(pg, name);
  await pg.psql(name, `
    CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, note text, balance numeric(14,2));
    CREATE TABLE orders (
      id integer PRIMARY KEY,
      customer_id integer NOT NULL REFERENCES customers(id),
      placed_at timestamptz NOT NULL,
      total numeric(12,3),
      memo text
    );
    INSERT INTO customers VALUES
      (1, 'O''Brien', E'first line\\nsecond line', 1234.56),
      (2, 'Zoë "Quoted" Smith', NULL, -0.01),
      (3, E'tab\\there; DROP TABLE customers; --', E'back\\\\slash $(touch pwned)', 999999999999.99);
    INSERT INTO orders VALUES
      (10, 1, '2026-11-22T06:03:02Z', 10.5, 'it''s fine'),
      (11, 1, '2026-01-01T00:00:00Z', 0.001, NULL),
      (12, 3, '2025-06-30T23:59:59Z', NULL, E'multi\\nline\\r\\nmemo');
  `);
}

/** A table's rows in COPY text form, ordered by primary key: equal strings mean equal contents. */
export async function readTable(pg: PostgresServer, database: string, table: string): Promise<string> {
  return pg.psql(database, `COPY (SELECT * FROM ${quoteIdent(table)} ORDER BY 1) TO STDOUT`);
}

/** Names each table whose rows differ between two databases; empty means identical. */
export async function compareTables(pg: PostgresServer, first: string, second: string, tables: readonly string[] = SAMPLE_TABLES): Promise<string[]> {
  const differing: string[] = [];
  for (const table of tables) {
    const [a, b] = await Promise.all([readTable(pg, first, table), readTable(pg, second, table)]);
    if (a !== b) differing.push(`${table}:\n--- ${first}\n${a}\n--- ${second}\n${b}`);
  }
  return differing;
}

/** Runs an SQL file (a pg_dump output) into a database, stopping at the first error. */
export async function restoreFile(pg: PostgresServer, database: string, file: string): Promise<void> {
  const args = ['--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', `--dbname=dbname=${quoteConnValue(database)}`, `--file=${file}`];
  await runCommand('psql', args, { env: { ...process.env, ...pg.connectionEnv } });
}
