// `chartd run charts/backup-and-encrypt.yaml` end to end: the built CLI against a throwaway PostgreSQL and gpg home.

import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/handlers/exec.js';
import {
  BACKUP_CHART as CHART, backupArgs as argsFor, failureLines, holdTableLock, listFiles, listTree, lockWaiters, processesOf, startRun as startRunIn,
  type RunResult, type Running,
} from '../support/backupRun.js';
import { makeGpgHome, type GpgHome } from '../support/gpg.js';
import { compareTables, createDatabase, createSampleDatabase, restoreFile, startPostgres, type PostgresServer } from '../support/postgres.js';
import { until } from '../support/wait.js';

const HAPPY_PATH = ['create_intermediate_directory', 'create_pg_dump_directory', 'backup_schema', 'backup_data', 'compress', 'encrypt',
  'create_storage_directory', 'move_backup'];
const CLEANUP = ['remove_encrypted_backup', 'remove_tarball', 'remove_data_file', 'remove_schema_file', 'remove_pg_dump_directory', 'remove_intermediate_directory'];
// Names that would do harm if any step handed them to a shell or let them pose as options.
const HOSTILE_DATABASE = `-db $(touch pwned); 'q' "x" \`touch pwned2\` & | > <`;

let pg: PostgresServer;
let gpg: GpgHome;
let work: string;
/** The working directory of every chartd run: nothing may appear in it. */
let cwd: string;

beforeAll(async () => {
  [pg, gpg] = await Promise.all([startPostgres(), makeGpgHome()]);
  work = await mkdtemp(join(tmpdir(), 'chartd-backup-run-'));
  cwd = join(work, 'cwd');
  await mkdir(cwd);
  await Promise.all([createSampleDatabase(pg, 'sales'), createSampleDatabase(pg, HOSTILE_DATABASE), createSampleDatabase(pg, 'resume_sales')]);
}, 120_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), gpg?.cleanup(), work && rm(work, { recursive: true, force: true })]);
});

function startRun(args: string[]): Running {
  return startRunIn(cwd, args);
}

function run(args: string[]): Promise<RunResult> {
  return startRun(args).done;
}

/** The run id the fault tests pass, so they know the run's working directory. */
const RUN = 'nightly';
/** Where a run with id RUN of acme/sales works, relative to the storage root. */
const WORK = `intermediate/acme/sales/${RUN}`;

/** The chart and the --set pairs of one backup; `overrides` replace or add keys. */
function backupArgs(root: string, overrides: Record<string, string | number> = {}): string[] {
  return argsFor(pg, gpg, root, overrides);
}

const CONTEXT_REFUSED = /^Critical failure: context does not match chart backup-and-encrypt's schema: /;
const SETTINGS_REFUSED = /^Critical failure: chart backup-and-encrypt's settings are wrong: /;

/** Files the run made (not planted by the test) that could hold unencrypted data or half a result. */
async function unsafeLeftovers(root: string, planted: ReadonlySet<string>): Promise<string[]> {
  return (await listFiles(root)).filter((path) => !planted.has(path) && (!path.endsWith('.tar.gz.gpg') || /\.(sql|partial)$|\.tar\.gz$|\/\./.test(path)));
}

async function backupsIn(root: string): Promise<string[]> {
  return (await listFiles(join(root, 'long_term'))).filter((path) => path.endsWith('.tar.gz.gpg'));
}

/** The chart's `stamp` and `fiscal_year` filters, for paths an instance created at `ms` will use. */
function stampOf(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}
function fiscalYearOf(ms: number, lastMonth: number): number {
  const time = new Date(ms);
  return time.getUTCMonth() + 1 > lastMonth ? time.getUTCFullYear() + 1 : time.getUTCFullYear();
}

/** The seconds an instance started by a run spawned now can be created in: its stamp is one of these. */
function comingSeconds(): number[] {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return Array.from({ length: 62 }, (_, index) => now + (index - 1) * 1000);
}

/** Decrypts, unpacks and restores (schema, then data) one backup into a new database; returns the differing tables. */
async function restoreAndCompare(backup: string, source: string, target: string): Promise<string[]> {
  const out = await mkdtemp(join(work, 'restore-'));
  await gpg.decrypt(backup, join(out, 'backup.tar.gz'));
  await runCommand('tar', ['--extract', `--file=${join(out, 'backup.tar.gz')}`, `--directory=${out}`]);
  const [dump] = (await readdir(out, { withFileTypes: true })).filter((entry) => entry.isDirectory());
  expect(await readdir(join(out, dump!.name))).toEqual(['data.sql', 'schema.sql']);
  await createDatabase(pg, target);
  await restoreFile(pg, target, join(out, dump!.name, 'schema.sql'));
  await restoreFile(pg, target, join(out, dump!.name, 'data.sql'));
  return compareTables(pg, source, target);
}

/** A successful run: exit 0, no failures, one more backup, and no file left in the intermediate area. */
async function expectCleanSuccess(result: RunResult, root: string): Promise<void> {
  expect(failureLines(result.stdout), result.stdout + result.stderr).toEqual([]);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(await listFiles(join(root, 'intermediate'))).toEqual([]);
}

describe('chartd run charts/backup-and-encrypt.yaml', () => {
  it('happy run: exit 0, one encrypted backup, nothing in the intermediate area, and it restores row for row', async () => {
    const root = join(work, 'happy');
    const result = await run(backupArgs(root));
    await expectCleanSuccess(result, root);
    const backups = await backupsIn(root);
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^acme\/sales\/FY\d{4}\/\d{8}T\d{6}Z-run-[0-9a-f]{8}\.tar\.gz\.gpg$/);
    // A line per node as it finished, then what was written, its size and the time it took; nothing on stderr.
    const lines = result.stdout.trimEnd().split('\n');
    const id = /^chartd run backup-and-encrypt: run (run-[0-9a-f]{8}), store (\S+)$/.exec(lines[0]!);
    expect(id, result.stdout).not.toBeNull();
    expect(lines[1]).toBe(`  if this process is killed, resume (and clean up) with: chartd run ${CHART} --data ${id![2]} --id ${id![1]}`);
    const nodes = lines.slice(2, -1).map((line) => /^ {2}(\w+) +(\w+) +\d+\.\d\ds$/.exec(line)?.slice(1));
    expect(nodes).toEqual([...HAPPY_PATH, ...CLEANUP].map((node) => [node, 'ok']));
    const size = (await stat(join(root, 'long_term', backups[0]!))).size;
    expect(lines.at(-1)).toMatch(new RegExp(`^Done in \\d+\\.\\d\\ds: wrote ${join(root, 'long_term', backups[0]!)} \\(${(size / 1024).toFixed(1)} KB\\)$`));
    expect(result.stderr).toBe('');
    // The store made for the run is gone with it.
    await expect(stat(id![2]!)).rejects.toThrow(/ENOENT/);
    expect(await unsafeLeftovers(root, new Set())).toEqual([]);
    expect(await restoreAndCompare(join(root, 'long_term', backups[0]!), 'sales', 'sales_restored')).toEqual([]);
  });

  describe.concurrent('a failure in each node of the happy path', () => {
    interface Fault {
      readonly node: string;
      /** The failures expected, in order: the node itself, then any cleanup step the same fault blocks. */
      readonly failures: readonly string[];
      readonly overrides?: Record<string, string | number>;
      /** Sets the fault up; returns the paths it planted, relative to the storage root. */
      plant?(root: string): Promise<string[]>;
      /** Removes the fault; the same command then succeeds. */
      fix(root: string, planted: readonly string[]): Promise<void>;
      /** The values of the re-run, when the fault was in them. */
      fixedOverrides?(): Record<string, string | number>;
      readonly message: RegExp;
    }

    const removePlanted = async (root: string, planted: readonly string[]): Promise<void> => {
      for (const path of planted) await rm(join(root, path), { recursive: true, force: true });
    };
    const plantFile = async (root: string, path: string, text = 'planted by the test\n'): Promise<void> => {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), text);
    };

    const faults: Fault[] = [
      {
        node: 'create_intermediate_directory',
        // A file where the directory must go; the last cleanup step refuses to delete a file it did not make.
        failures: ['create_intermediate_directory', 'remove_intermediate_directory'],
        async plant(root) {
          await plantFile(root, WORK);
          return [WORK];
        },
        fix: removePlanted,
        message: /fs\.makeDir: .*intermediate\/acme\/sales\/nightly exists and is not a directory/,
      },
      {
        node: 'create_pg_dump_directory',
        failures: ['create_pg_dump_directory', 'remove_pg_dump_directory'],
        async plant(root) {
          const paths = comingSeconds().map((ms) => `${WORK}/${stampOf(ms)}`);
          for (const path of paths) await plantFile(root, path);
          return paths;
        },
        fix: removePlanted,
        message: /fs\.makeDir: .*intermediate\/acme\/sales\/nightly\/\d{8}T\d{6}Z exists and is not a directory/,
      },
      {
        node: 'backup_schema',
        failures: ['backup_schema'],
        overrides: { database: 'sales_not_created_yet' },
        fix: () => createSampleDatabase(pg, 'sales_not_created_yet'),
        message: /pg\.dumpSchema: pg_dump exited with code 1:[^]*database "sales_not_created_yet" does not exist/,
      },
      {
        node: 'backup_data',
        // The schema dump needs no rows; the data dump is refused by forced row-level security.
        failures: ['backup_data'],
        overrides: { database: 'sales_rls', postgresql_user: 'sales_owner' },
        async plant() {
          await createSampleDatabase(pg, 'sales_rls');
          await pg.psql('postgres', 'DROP ROLE IF EXISTS sales_owner; CREATE ROLE sales_owner LOGIN');
          await pg.psql('sales_rls', `ALTER TABLE customers OWNER TO sales_owner; ALTER TABLE orders OWNER TO sales_owner;
            ALTER TABLE orders ENABLE ROW LEVEL SECURITY; ALTER TABLE orders FORCE ROW LEVEL SECURITY;`);
          return [];
        },
        fix: async () => void (await pg.psql('sales_rls', 'ALTER TABLE orders NO FORCE ROW LEVEL SECURITY')),
        message: /pg\.dumpData: pg_dump exited with code 1:[^]*row-level security policy for table "orders"/,
      },
      {
        node: 'compress',
        // A directory where the tarball must go; remove_tarball refuses to delete a directory.
        failures: ['compress', 'remove_tarball'],
        async plant(root) {
          const paths = comingSeconds().map((ms) => `${WORK}/${stampOf(ms)}.tar.gz`);
          for (const path of paths) await mkdir(join(root, path), { recursive: true });
          return paths;
        },
        fix: removePlanted,
        message: /tar\.create: .*\.tar\.gz is a directory/,
      },
      {
        node: 'encrypt',
        failures: ['encrypt'],
        overrides: { key_name: 'nobody@chartd.invalid' },
        fix: async () => {},
        fixedOverrides: () => ({ key_name: gpg.recipient }),
        message: /gpg\.encrypt: no usable public key for recipient "nobody@chartd\.invalid"/,
      },
      {
        node: 'create_storage_directory',
        failures: ['create_storage_directory'],
        async plant(root) {
          const paths = [...new Set(comingSeconds().map((ms) => `long_term/acme/sales/FY${fiscalYearOf(ms, 6)}`))];
          for (const path of paths) await plantFile(root, path);
          return paths;
        },
        fix: removePlanted,
        message: /fs\.makeDir: .*long_term\/acme\/sales\/FY\d{4} exists and is not a directory/,
      },
      {
        node: 'move_backup',
        // Someone else's file at the destination: never overwritten, and the run's own backup is cleaned up.
        failures: ['move_backup'],
        async plant(root) {
          const paths = comingSeconds().map((ms) => `long_term/acme/sales/FY${fiscalYearOf(ms, 6)}/${stampOf(ms)}-${RUN}.tar.gz.gpg`);
          for (const path of paths) await plantFile(root, path, 'an older backup that must survive\n');
          return paths;
        },
        fix: removePlanted,
        message: /fs\.move: refusing to move .* the destination exists and differs/,
      },
    ];

    it('covers every node of the happy path', () => {
      expect(faults.map((fault) => fault.node)).toEqual(HAPPY_PATH);
    });

    for (const fault of faults) {
      it(`${fault.node} fails: exit = failures, cleanup leaves nothing unencrypted, and a re-run after the fix succeeds`, async () => {
        const root = join(work, `fault-${fault.node}`);
        await mkdir(root, { recursive: true });
        const planted = (await fault.plant?.(root)) ?? [];
        const result = await run([...backupArgs(root, fault.overrides), '--id', RUN]);

        const failures = failureLines(result.stdout);
        expect(result.code, result.stdout + result.stderr).toBe(failures.length);
        expect(failures.map((line) => /^Failure: \S+ \S+ \S+ (\w+): /.exec(line)?.[1])).toEqual(fault.failures);
        const database = String(fault.overrides?.['database'] ?? 'sales');
        expect(failures[0]).toMatch(new RegExp(`^Failure: acme ${pg.host.replaceAll('.', '\\.')} ${database} ${fault.node}: `));
        expect(result.stdout).toMatch(fault.message);
        expect(result.stdout).not.toContain('Critical failure');
        // Each failure is one line; what a tool printed follows it, indented, before the next failure or the summary.
        const afterFirst = result.stdout.slice(result.stdout.indexOf('Failure: ')).trimEnd().split('\n');
        expect(afterFirst.every((line) => /^(Failure: |    \S|Finished in )/.test(line)), result.stdout).toBe(true);
        expect(afterFirst.at(-1)).toMatch(new RegExp(`^Finished in \\S+ with ${failures.length} failures?; wrote no file$`));
        expect(result.stderr).toBe('');
        expect(await unsafeLeftovers(root, new Set(planted))).toEqual([]);
        // Not even the encrypted file is left in the intermediate area, and no backup landed in long-term storage.
        expect((await listFiles(root)).filter((path) => path.startsWith('intermediate/') && !planted.includes(path))).toEqual([]);
        expect(await backupsIn(root)).toEqual(planted.filter((path) => path.endsWith('.gpg')).map((path) => path.slice('long_term/'.length)));
        for (const path of planted.filter((path) => path.endsWith('.gpg'))) {
          expect(await readFile(join(root, path), 'utf8')).toBe('an older backup that must survive\n');
        }

        await fault.fix(root, planted);
        // Without --data each run has a store of its own, so the same --id is a new run.
        const again = await run([...backupArgs(root, { ...fault.overrides, ...fault.fixedOverrides?.() }), '--id', RUN]);
        await expectCleanSuccess(again, root);
        expect(await backupsIn(root)).toHaveLength(1);
        expect(await unsafeLeftovers(root, new Set())).toEqual([]);
      });
    }
  });

  describe.concurrent('names that could pose as shell syntax or options', () => {
    it(`a database named ${JSON.stringify(HOSTILE_DATABASE)} is backed up as it is, and nothing runs its contents`, async () => {
      const root = join(work, 'hostile');
      const result = await run(backupArgs(root, { database: HOSTILE_DATABASE }));
      await expectCleanSuccess(result, root);
      const backups = await backupsIn(root);
      expect(backups).toHaveLength(1);
      expect(backups[0]!.startsWith(`acme/${HOSTILE_DATABASE}/FY`)).toBe(true);
      expect(await restoreAndCompare(join(root, 'long_term', backups[0]!), HOSTILE_DATABASE, 'hostile_restored')).toEqual([]);
      expect(await readdir(cwd)).toEqual([]);
      const year = backups[0]!.slice(`acme/${HOSTILE_DATABASE}/`.length).split('/')[0];
      expect(await listTree(root)).toEqual(['intermediate/', 'intermediate/acme/', `intermediate/acme/${HOSTILE_DATABASE}/`, 'long_term/', 'long_term/acme/', `long_term/acme/${HOSTILE_DATABASE}/`,
        `long_term/acme/${HOSTILE_DATABASE}/${year}/`, `long_term/${backups[0]}`].sort());
    });

    it.each([
      ['a client name with a leading "-"', { client_name: '-rf' }, CONTEXT_REFUSED, 'context.client_name must match pattern'],
      ['a client name with shell syntax', { client_name: 'acme;touch pwned' }, CONTEXT_REFUSED, 'context.client_name must match pattern'],
      ['a database name with a "/"', { database: '../../etc' }, CONTEXT_REFUSED, 'context.database must match pattern'],
      ['a database named ".."', { database: '..' }, CONTEXT_REFUSED, 'context.database must match pattern'],
      ['a relative storage root', { storage_root: 'relative/dir' }, SETTINGS_REFUSED, 'settings.storage_root must match pattern'],
    ])('%s is refused by the chart\'s schema: exit 1, a clear message, nothing touched', async (_, overrides, headline, message) => {
      const root = join(work, `refused-${Object.values(overrides)[0]!.replace(/\W/g, '_')}`);
      const result = await run(backupArgs(root, overrides));
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(headline);
      expect(result.stdout).toContain(message);
      expect(failureLines(result.stdout)).toEqual([]);
      expect(await listTree(root)).toEqual([]);
      expect(await readdir(cwd)).toEqual([]);
    });
  });

  describe.concurrent('a runner that cannot start', () => {
    it('a chart file that does not exist: exit 1 with "Critical failure:" naming it', async () => {
      const result = await run(['charts/no-such-chart.yaml', '--set', 'database=sales']);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^Critical failure: .*\n.*charts\/no-such-chart\.yaml: .*no such file or directory/);
    });

    it('a required value missing, one out of range and settings missing: exit 1, every problem named at once', async () => {
      const result = await run([CHART, '--set', 'client_name=acme', '--set', 'database=sales', '--set', 'eoy_month=13']);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^Critical failure: context does not match/);
      expect(result.stdout).toContain('chart backup-and-encrypt is not configured: it needs the operator\'s settings storage_root, postgresql_host');
      for (const problem of ["required property 'key_name'", 'context.eoy_month must be <= 12']) {
        expect(result.stdout).toContain(problem);
      }
    });

    // Command lines that cannot be read are usage errors, as with argparse: exit 2, stderr, nothing run.
    it.each([
      ['--set without "="', ['--set', 'database']],
      ['--set of a number that is not one', ['--set', 'eoy_month=twelve']],
      ['an unknown option', ['--sett', 'database=sales']],
    ])('%s: a usage error on stderr, exit 2, stdout empty', async (_, extra) => {
      const result = await run([CHART, ...extra]);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^chartd: .+\nRun 'chartd run --help' for usage\.\n$/);
    });

    it('--set of a key neither the settings nor the context declare: a usage error naming both lists', async () => {
      const result = await run([CHART, '--set', 'postgres_host=db']);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe("chartd: --set postgres_host=db: chart backup-and-encrypt has no setting or context key 'postgres_host' (did you mean 'postgresql_host'?); " +
        'settings: storage_root, postgresql_host, postgresql_port, postgresql_user, password_env, gnupg_home; context: client_name, database, eoy_month, key_name\n' +
        "Run 'chartd run --help' for usage.\n");
    });
  });

  it('kill -9 mid-backup, then the same --id resumes that instance and finishes with exactly one backup', async () => {
    const root = join(work, 'resume');
    const data = join(work, 'resume-data');
    const args = [...backupArgs(root, { database: 'resume_sales' }), '--data', data, '--id', 'nightly-1'];
    const holder = await holdTableLock(pg, 'resume_sales', 'orders');
    try {
      const first = startRun(args);
      await until(async () => (await lockWaiters(pg, 'resume_sales')) >= 1, 'pg_dump blocked on the lock', 20_000, 50);
      expect(await processesOf('pg_dump', 'resume_sales')).toHaveLength(1);
      first.child.kill('SIGKILL');
      expect((await first.done).signal).toBe('SIGKILL');
      // Its pg_dump dies with it, so it cannot write into the files of the resumed attempt.
      await until(async () => (await processesOf('pg_dump', 'resume_sales')).length === 0, 'the orphaned pg_dump to die', 20_000, 50);
      expect(await listFiles(join(root, 'long_term'))).toEqual([]);

      const orphans = await lockWaiters(pg, 'resume_sales');
      const second = startRun(args);
      await until(async () => (await lockWaiters(pg, 'resume_sales')) > orphans, 'the resumed pg_dump blocked on the lock', 20_000, 50);
      await holder.release();
      const result = await second.done;
      await expectCleanSuccess(result, root);
      expect(result.stderr).toMatch(/instance nightly-1 of backup-and-encrypt \(created [^)]+\) is in backup_schema; resuming it/);
      const backups = await backupsIn(root);
      expect(backups).toHaveLength(1);
      expect(await unsafeLeftovers(root, new Set())).toEqual([]);
      expect(await restoreAndCompare(join(root, 'long_term', backups[0]!), 'resume_sales', 'resume_restored')).toEqual([]);

      // Once more with the same id: the outcome is reported again, and no second backup is taken.
      const third = await run(args);
      expect(third.code).toBe(0);
      expect(third.stderr).toMatch(/instance nightly-1 of backup-and-encrypt .* finished in report_results/);
      expect(await backupsIn(root)).toEqual(backups);

      // Another value under the same id would be silently ignored, so it is refused.
      const conflicting = await run([...backupArgs(root, { database: 'sales' }), '--data', data, '--id', 'nightly-1']);
      expect(conflicting.code).toBe(1);
      expect(conflicting.stdout).toMatch(/^Critical failure: instance nightly-1 of backup-and-encrypt already exists with other values: database=sales/);
    } finally {
      await holder.release();
    }
  });
});
