// chartd run interrupted (SIGINT, SIGTERM, --timeout, a second signal, kill -9) at several nodes, and runs that overlap:
// real processes, a real PostgreSQL and gpg; each run is held in its step by a table lock or a FIFO where it writes.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChartFile } from '../../src/chart/load.js';
import type { Chart } from '../../src/chart/model.js';
import { handlerRegistry } from '../../src/main.js';
import {
  BACKUP_CHART, backupArgs, failureLines, holdTableLock, listFiles, listTree, lockWaiters, processesOf, startRun, stopped, type RunResult, type Running,
} from '../support/backupRun.js';
import { makeGpgHome, type GpgHome } from '../support/gpg.js';
import { createSampleDatabase, startPostgres, type PostgresServer } from '../support/postgres.js';
import { until } from '../support/wait.js';

let pg: PostgresServer;
let gpg: GpgHome;
let chart: Chart;
let work: string;
let cwd: string;

/** Where each case holds the run: a lock makes backup_schema wait; a FIFO where a step writes its temp file makes it wait. */
const CASES = [
  { stop: 'SIGINT', node: 'backup_schema' },
  { stop: 'SIGTERM', node: 'backup_data' },
  { stop: 'SIGINT', node: 'compress' },
  { stop: 'SIGTERM', node: 'encrypt' },
  { stop: '--timeout', node: 'backup_schema' },
  { stop: '--timeout', node: 'compress' },
] as const;

/** The temp file each held step writes first (relative to the run's directory), and the program writing it. */
const HELD_AT: Readonly<Record<string, { readonly partial: (stamp: string) => string; readonly program: string }>> = {
  backup_data: { partial: (stamp) => `${stamp}/.data.sql.partial`, program: 'pg_dump' },
  compress: { partial: (stamp) => `.${stamp}.tar.gz.partial`, program: 'tar' },
  encrypt: { partial: (stamp) => `.${stamp}.tar.gz.gpg.partial`, program: 'gpg' },
};

beforeAll(async () => {
  [pg, gpg] = await Promise.all([startPostgres(), makeGpgHome()]);
  chart = await loadChartFile(BACKUP_CHART, { handlers: handlerRegistry() });
  work = await mkdtemp(join(tmpdir(), 'chartd-interrupt-'));
  cwd = join(work, 'cwd');
  await mkdir(cwd);
  await Promise.all([...CASES.map((_, index) => createSampleDatabase(pg, `held_${index}`)), createSampleDatabase(pg, 'twice'), createSampleDatabase(pg, 'killed'),
    createSampleDatabase(pg, 'overlap')]);
}, 120_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), gpg?.cleanup(), work && rm(work, { recursive: true, force: true })]);
});

/** The cleanup steps a failure of `node` leads through: its unhappy path, then on to the final state. */
function cleanupAfter(node: string): string[] {
  const chain: string[] = [];
  for (let state = chart.states[node]; state?.kind === 'step'; ) {
    chain.push(state.onFailure);
    state = chart.states[state.onFailure];
  }
  return chain.filter((name) => chart.states[name]?.kind === 'step');
}

/** The one directory the run made in its working directory: the dump directory, named by the run's stamp. */
async function stampOf(runDir: string): Promise<string> {
  let stamp: string | undefined;
  await until(async () => (stamp = (await readdir(runDir).catch(() => [])).find((name) => /^\d{8}T\d{6}Z$/.test(name))) !== undefined, 'the dump directory', 20_000, 50);
  return stamp!;
}

/** Stored runs (chartd-run-*) left in a TMPDIR. */
async function storesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('chartd-run-'));
}

/** What every interrupted run must show: exit = failures printed, the interrupted node's failure, its cleanup run, no file left. */
async function expectCleanedUp(result: RunResult, root: string, database: string, node: string, reason: string): Promise<void> {
  const failures = failureLines(result.stdout);
  expect(result.code, result.stdout + result.stderr).toBe(failures.length);
  expect(failures).toEqual([`Failure: acme ${pg.host} ${database} ${node}: ${reason}`]);
  const lines = result.stdout.split('\n');
  expect(lines.some((line) => new RegExp(`^  ${node} +interrupted +\\d`).test(line)), result.stdout).toBe(true);
  for (const cleanup of cleanupAfter(node)) expect(lines.some((line) => new RegExp(`^  ${cleanup} +ok `).test(line)), `${cleanup}\n${result.stdout}`).toBe(true);
  expect(result.stdout).toMatch(/\nFinished in \S+ with 1 failure; wrote no file\n$/);
  // Not a byte of the database is left anywhere under the storage root, in clear or not.
  expect(await listFiles(root)).toEqual([]);
}

interface HeldRun {
  readonly root: string;
  /** The run's TMPDIR, where chartd run makes its store. */
  readonly tmp: string;
  readonly runDir: string;
  readonly lock: { release(): Promise<void> };
  readonly running: Running;
}

/**
 * Starts a backup of `database` into its own storage root and TMPDIR while a table lock holds its schema dump, waits
 * until the dump waits on the lock, and hands it to `body`; whatever happens, the lock is released and the run ended.
 */
async function withHeldRun(name: string, database: string, args: string[], body: (held: HeldRun) => Promise<void>): Promise<void> {
  const root = join(work, name);
  const tmp = join(work, `tmp-${name}`);
  await mkdir(tmp);
  const lock = await holdTableLock(pg, database, 'orders');
  const running = startRun(cwd, [...backupArgs(pg, gpg, root, { database }), ...args], { TMPDIR: tmp });
  try {
    await until(async () => (await lockWaiters(pg, database)) >= 1, 'the schema dump waiting on the lock', 20_000, 50);
    await body({ root, tmp, runDir: join(root, 'intermediate', 'acme', database, 'nightly'), lock, running });
  } finally {
    await lock.release();
    await stopped(running);
  }
}

describe.concurrent('an interrupted backup', () => {
  for (const [index, { stop, node }] of CASES.entries()) {
    it(`${stop} in ${node}: the step is stopped, its cleanup runs, the failure is printed, exit 1, nothing left under the storage root`, { timeout: 60_000 }, async () => {
      const database = `held_${index}`;
      const timeout = node === 'backup_schema' ? '8s' : '15s';
      const args = ['--id', 'nightly', ...(stop === '--timeout' ? ['--timeout', timeout] : [])];
      await withHeldRun(`held-${index}`, database, args, async ({ root, tmp, runDir, lock, running }) => {
        const held = HELD_AT[node];
        if (held) {
          const partial = join(runDir, held.partial(await stampOf(runDir)));
          await promisify(execFile)('mkfifo', [partial]);
          await lock.release();
          await until(async () => (await processesOf(held.program, partial)).length >= 1, `${held.program} waiting on ${partial}`, 20_000, 50);
        }
        if (stop !== '--timeout') running.child.kill(stop);
        const result = await running.done;
        const reason = stop === '--timeout' ? `interrupted: --timeout ${timeout} ran out` : `interrupted by ${stop}`;
        await expectCleanedUp(result, root, database, node, reason);
        expect(result.stderr).toContain(stop === '--timeout' ? `chartd: --timeout ${timeout} ran out: stopping nightly's running step and cleaning up` : `chartd: ${stop}: stopping nightly's running step`);
        if (held) expect(await processesOf(held.program, runDir)).toEqual([]);
        // Nothing is left to resume, so the store made for the run is gone too.
        expect(await storesIn(tmp)).toEqual([]);
      });
    });
  }

  it('a second SIGINT during the cleanup stops at once (exit 130) printing the command that resumes; that command finishes the cleanup', async () => {
    await withHeldRun('twice', 'twice', [], async ({ root, tmp, lock, running }) => {
      // A stopped pg_dump leaves SIGTERM pending, so its step settles only at the SIGKILL 2 s later and the cleanup waits for it.
      for (const pid of await processesOf('pg_dump', 'twice')) process.kill(pid, 'SIGSTOP');
      running.child.kill('SIGINT');
      await until(() => /\n {2}backup_schema +interrupted /.test(running.stdout()), 'the interrupt committed', 20_000, 20);
      running.child.kill('SIGINT');
      const first = await running.done;
      expect(first.code, first.stdout + first.stderr).toBe(130);
      expect(first.stdout).not.toMatch(/remove_schema_file/);
      const id = /run (run-[0-9a-f]{8}),/.exec(first.stdout)![1]!;
      const command = /to finish it, run:\nchartd (run .+)\n$/.exec(first.stderr)?.[1];
      const [store] = await storesIn(tmp);
      expect(command, first.stderr).toBe(`run ${BACKUP_CHART} --data ${join(tmp, store!)} --id ${id}`);
      await until(async () => (await processesOf('pg_dump', 'twice')).length === 0, 'the stopped pg_dump to die with chartd', 20_000, 50);
      expect(await listTree(root)).toContain(`intermediate/acme/twice/${id}/`);
      await lock.release();

      const resumed = await startRun(cwd, command!.split(' ').slice(1), { TMPDIR: tmp }).done;
      expect(resumed.stderr).toMatch(/chartd: instance run-[0-9a-f]{8} of backup-and-encrypt \(created [^)]+\) is in remove_schema_file \(interrupted by SIGINT; it only cleans up\); resuming it/);
      expect(failureLines(resumed.stdout)).toEqual([`Failure: acme ${pg.host} twice backup_schema: interrupted by SIGINT`]);
      expect(resumed.code).toBe(1);
      expect(await listFiles(root)).toEqual([]);
      // The store chartd run made goes once the run it resumed has finished.
      expect(await storesIn(tmp)).toEqual([]);
    });
  });

  it('kill -9: the command printed at the start resumes the run, which finishes with one backup and nothing in clear', async () => {
    await withHeldRun('killed', 'killed', [], async ({ root, tmp, lock, running }) => {
      const command = /resume \(and clean up\) with: chartd (run .+)\n/.exec(running.stdout())?.[1];
      expect(command, running.stdout()).toBeDefined();
      running.child.kill('SIGKILL');
      await running.done;
      await until(async () => (await processesOf('pg_dump', 'killed')).length === 0, 'the orphaned pg_dump to die', 20_000, 50);
      await lock.release();
      const resumed = await startRun(cwd, command!.split(' ').slice(1), { TMPDIR: tmp }).done;
      expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(/\nDone in \S+: wrote \S+\/long_term\/acme\/killed\/FY\d{4}\/\d{8}T\d{6}Z-run-[0-9a-f]{8}\.tar\.gz\.gpg \(\d/);
      expect(await listFiles(root)).toEqual([expect.stringMatching(/^long_term\/acme\/killed\/FY\d{4}\/\d{8}T\d{6}Z-run-[0-9a-f]{8}\.tar\.gz\.gpg$/)]);
      expect(await storesIn(tmp)).toEqual([]);
    });
  });
});

describe.concurrent('runs that overlap', () => {
  it('two runs of the same client and database at once both succeed, each with its own backup (one --json, one --quiet)', async () => {
    const root = join(work, 'overlap');
    const lock = await holdTableLock(pg, 'overlap', 'orders');
    let results: RunResult[];
    try {
      const runs = [startRun(cwd, [...backupArgs(pg, gpg, root, { database: 'overlap' }), '--json']), startRun(cwd, [...backupArgs(pg, gpg, root, { database: 'overlap' }), '--quiet'])];
      await until(async () => (await lockWaiters(pg, 'overlap')) >= 2, 'both schema dumps waiting on the lock', 20_000, 50);
      await lock.release();
      results = await Promise.all(runs.map((running) => running.done));
    } finally {
      await lock.release();
    }
    for (const result of results) expect(result.code, result.stdout + result.stderr).toBe(0);
    const summary = JSON.parse(results[0]!.stdout) as { ok: boolean; id: string; file: string; bytes: number; failures: unknown[]; nodes: { node: string; outcome: string }[] };
    expect(summary).toMatchObject({ ok: true, failures: [] });
    expect(summary.nodes.map((node) => node.outcome)).toEqual(Array(14).fill('ok'));
    expect((await stat(summary.file)).size).toBe(summary.bytes);
    expect(results[1]!.stdout).toBe('');
    const backups = (await listFiles(root)).filter((path) => path.endsWith('.tar.gz.gpg'));
    expect(backups).toHaveLength(2);
    expect(backups.some((path) => path.endsWith(`-${summary.id}.tar.gz.gpg`))).toBe(true);
    expect(await listFiles(join(root, 'intermediate'))).toEqual([]);
  });
});

describe.concurrent('a run a person can follow', () => {
  it('with no PostgreSQL listening says what failed and when it tries again; --timeout then ends the wait, failing on one line with the tool\'s output beneath', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const root = join(work, 'refused');
    const result = await startRun(cwd, [...backupArgs(pg, gpg, root, { postgresql_port: port, postgresql_host: '127.0.0.1' }), '--timeout', '4s']).done;
    expect(result.stdout).toMatch(new RegExp(`\\n  backup_schema +retrying +attempt 1 of 3 failed: pg\\.dumpSchema: pg_dump exited with code 1: pg_dump: error: connection to server at "127\\.0\\.0\\.1", port ${port} failed: Connection refused; next attempt in 1m, at \\d\\d:\\d\\d:\\d\\dZ\\n`));
    const failures = failureLines(result.stdout);
    expect(result.code).toBe(failures.length);
    expect(failures).toEqual([`Failure: acme 127.0.0.1 sales backup_schema: interrupted: --timeout 4s ran out while waiting to retry after attempt 1 failed: pg.dumpSchema: pg_dump exited with code 1:`]);
    const beneath = result.stdout.slice(result.stdout.indexOf('Failure: ')).split('\n').slice(1, -2);
    expect(beneath[0]).toMatch(/^ {4}pg_dump: error: connection to server at "127\.0\.0\.1", port \d+ failed: Connection refused$/);
    expect(beneath.slice(1).every((line) => line.startsWith('    '))).toBe(true);
    expect(await listFiles(root)).toEqual([]);
  });

  it('refuses a chart that waits for PUTs or events, saying so, unless --timeout bounds it', async () => {
    const rolling = resolve('charts/rolling-upgrade.yaml');
    const refused = await startRun(cwd, [rolling, '--set', 'release=2026.11.22-1']).done;
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('chartd: chart rolling-upgrade waits for input from outside in drain (check-ins: PUT …?state=drain), upgrade');
    expect(refused.stderr).toContain('which chartd run cannot send: serve it (chartd serve) and drive it over HTTP, or give --timeout DURATION');

    const tmp = join(work, 'tmp-gates');
    await mkdir(tmp);
    const bounded = await startRun(cwd, [rolling, '--set', 'release=2026.11.22-1', '--timeout', '5s'], { TMPDIR: tmp }).done;
    // The window (3s) passes; drain waits for check-ins until the timeout, then takes its timeout edge to rollback, which waits again.
    expect(failureLines(bounded.stdout)).toEqual(['Failure: rolling-upgrade 2026.11.22-1 drain: interrupted: --timeout 5s ran out while waiting']);
    expect(bounded.stdout).toMatch(/\n {2}drain +waiting +for check-ins \(PUT\), until \d\d:\d\d:\d\dZ\n/);
    expect(bounded.stdout).toMatch(/\nCritical failure: rolling-upgrade stopped in rollback and cannot go on by itself; resume with: chartd run \S+\/charts\/rolling-upgrade\.yaml --data \S+ --id run-[0-9a-f]{8}\n$/);
    expect(bounded.code).toBe(1);
    // Unfinished, so its store is kept for that command.
    expect(await storesIn(tmp)).toHaveLength(1);
    expect(await listTree(join(tmp, (await storesIn(tmp))[0]!))).not.toEqual([]);
  });
});
