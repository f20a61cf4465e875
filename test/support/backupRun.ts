// `chartd run charts/backup-and-encrypt.yaml` as a test drives it: the built CLI, its storage root, and ways to hold it mid-step.

import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { CLI } from './child.js';
import type { GpgHome } from './gpg.js';
import { quoteIdent, type PostgresServer } from './postgres.js';
import type { ScriptResult as RunResult } from './recipes.js';

export const BACKUP_CHART = resolve('charts/backup-and-encrypt.yaml');

/** How a run ended, as for a recipe's script. */
export type { ScriptResult as RunResult } from './recipes.js';

export interface Running {
  readonly child: ChildProcess;
  readonly done: Promise<RunResult>;
  stdout(): string;
  stderr(): string;
}

/** `chartd run ARGS` in `cwd`, with `env` added to the test's. */
export function startRun(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<RunResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

/** Ends a run a failed test left going the way an operator would (SIGTERM: it cleans up), then for good. */
export async function stopped(running: Running | undefined): Promise<void> {
  if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill('SIGTERM');
  const timer = setTimeout(() => running.child.kill('SIGKILL'), 10_000);
  await running.done;
  clearTimeout(timer);
}

/** The chart, then the --set pairs of one backup of acme's `sales` to `root`; `overrides` replace or add keys. */
export function backupArgs(pg: PostgresServer, gpg: GpgHome, root: string, overrides: Record<string, string | number> = {}): string[] {
  const values: Record<string, string | number> = {
    client_name: 'acme', database: 'sales', postgresql_host: pg.host, postgresql_port: pg.port, postgresql_user: pg.user,
    storage_root: root, eoy_month: 6, key_name: gpg.recipient, gnupg_home: gpg.home,
    ...(pg.connectionArgs.password_env ? { password_env: pg.connectionArgs.password_env } : {}),
    ...overrides,
  };
  return [BACKUP_CHART, ...Object.entries(values).flatMap(([key, value]) => ['--set', `${key}=${value}`])];
}

export function failureLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith('Failure: '));
}

/** Every path under `root`, relative, directories ending in "/". */
export async function listTree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.map((entry) => relative(root, join(entry.parentPath, entry.name)) + (entry.isDirectory() ? '/' : '')).sort();
}

/** Every path under `root` that is not a directory (files, FIFOs), relative. */
export async function listFiles(root: string): Promise<string[]> {
  return (await listTree(root)).filter((path) => !path.endsWith('/'));
}

/** A psql session holding ACCESS EXCLUSIVE on a table until released, so pg_dump waits. */
export async function holdTableLock(pg: PostgresServer, database: string, table: string): Promise<{ release(): Promise<void> }> {
  const psql = spawn('psql', ['--no-psqlrc', '--quiet', '--no-align', '--tuples-only', '--set=ON_ERROR_STOP=1', `--dbname=${database}`], {
    env: { ...process.env, ...pg.connectionEnv }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => psql.once('close', () => resolve()));
  const locked = new Promise<void>((resolve, reject) => {
    let out = '';
    psql.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('locked')) resolve();
    });
    psql.once('close', (code) => reject(new Error(`psql exited with ${code} before taking the lock`)));
  });
  psql.stdin!.write(`BEGIN; LOCK TABLE ${quoteIdent(table)} IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n`);
  await locked;
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      psql.stdin!.end('COMMIT;\n');
      await exited;
    },
  };
}

/** Sessions of `database` waiting for a lock (a pg_dump held by holdTableLock). */
export async function lockWaiters(pg: PostgresServer, database: string): Promise<number> {
  const text = await pg.psql('postgres', `SELECT count(*) FROM pg_stat_activity WHERE datname = '${database.replaceAll("'", "''")}' AND wait_event_type = 'Lock'`);
  return Number(text.trim());
}

/** Live processes (zombies count as dead) whose command line names `program` and contains `text`. */
export async function processesOf(program: string, text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [cmdline, stat] = await Promise.all([
      readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''),
      readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''),
    ]);
    if (cmdline.split('\0')[0]?.endsWith(program) && cmdline.includes(text) && !/^\d+ \(.*\) Z/.test(stat)) pids.push(Number(entry));
  }
  return pids;
}
