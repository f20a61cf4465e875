// pg.dumpSchema / pg.dumpData against a real PostgreSQL: dump, restore, compare; hostile names; passwords kept secret.

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FinalFailure } from '../../src/handlers/handler.js';
import { buildDumpArgs, dumpDataHandler, dumpSchemaHandler } from '../../src/handlers/pg.js';
import { Environment } from '../../src/runtime/environment.js';
import {
  compareTables, createDatabase, createSampleDatabase, PASSWORD_ROLE, restoreFile, startPostgres, type PostgresServer,
} from '../support/postgres.js';
import { makeStepContext } from '../support/stepContext.js';

let pg: PostgresServer;
let work: string;

beforeAll(async () => {
  pg = await startPostgres();
  await createSampleDatabase(pg, 'sales');
}, 120_000);
afterAll(async () => {
  await pg?.stop();
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chartd-pg-work-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const exists = (path: string) => stat(path).then(() => true, () => false);

async function dumpBoth(database: string, extra: Record<string, unknown> = {}): Promise<{ schema: string; data: string }> {
  const schema = join(work, 'schema.sql');
  const data = join(work, 'data.sql');
  await dumpSchemaHandler.run({ ...pg.connectionArgs, database, file: schema, ...extra }, makeStepContext());
  await dumpDataHandler.run({ ...pg.connectionArgs, database, file: data, ...extra }, makeStepContext());
  return { schema, data };
}

async function restoreInto(target: string, files: { schema: string; data: string }): Promise<void> {
  await createDatabase(pg, target);
  await restoreFile(pg, target, files.schema);
  await restoreFile(pg, target, files.data);
}

describe('pg.dumpSchema and pg.dumpData', () => {
  it('dump a database that restores (schema, then data) to identical rows', async () => {
    const files = await dumpBoth('sales');
    const schemaText = await readFile(files.schema, 'utf8');
    const dataText = await readFile(files.data, 'utf8');
    expect(schemaText).toContain('CREATE TABLE public.orders');
    expect(schemaText).toContain('FOREIGN KEY (customer_id) REFERENCES public.customers(id)');
    expect(schemaText).not.toContain('COPY public.customers');
    expect(dataText).toContain('COPY public.customers');
    expect(dataText).not.toContain('CREATE TABLE');
    await restoreInto('sales_restored', files);
    expect(await compareTables(pg, 'sales', 'sales_restored')).toEqual([]);
    expect((await readdir(work)).sort()).toEqual(['data.sql', 'schema.sql']);
  });

  it('re-run after success overwrites each file with a complete dump', async () => {
    await dumpBoth('sales');
    const files = await dumpBoth('sales');
    await restoreInto('sales_rerun', files);
    expect(await compareTables(pg, 'sales', 'sales_rerun')).toEqual([]);
    expect((await readdir(work)).sort()).toEqual(['data.sql', 'schema.sql']);
  });

  it('dumps a database whose name is shell code and option-like, into a path that is too', async () => {
    const name = `a;b $(touch pwned) 'q' "d" -x dbname=evil`;
    await createSampleDatabase(pg, name);
    const schema = join(work, '-rf;$(id).sql');
    const data = join(work, '--file=x.sql');
    await dumpSchemaHandler.run({ ...pg.connectionArgs, database: name, file: schema }, makeStepContext());
    await dumpDataHandler.run({ ...pg.connectionArgs, database: name, file: data }, makeStepContext());
    await restoreInto('hostile_restored', { schema, data });
    expect(await compareTables(pg, name, 'hostile_restored')).toEqual([]);
    expect((await readdir(work)).sort()).toEqual(['--file=x.sql', '-rf;$(id).sql']);
  });

  it('treats a database named --help as just an unknown database', async () => {
    const file = join(work, 'schema.sql');
    const error = (await dumpSchemaHandler.run({ ...pg.connectionArgs, database: '--help', file }, makeStepContext()).catch((caught: Error) => caught)) as Error;
    expect(error.message).toMatch(/^pg\.dumpSchema: pg_dump exited with code 1:\n/);
    expect(error.message).toContain('database "--help" does not exist');
    expect(await readdir(work)).toEqual([]);
  });

  it('skips the retries for answers waiting cannot change, and keeps them for a server that is not there', async () => {
    const file = join(work, 'schema.sql');
    const missing = (await dumpSchemaHandler.run({ ...pg.connectionArgs, database: 'no_such_db', file }, makeStepContext()).catch((caught: Error) => caught)) as Error;
    expect(missing).toBeInstanceOf(FinalFailure);
    expect(missing.message).toContain('database "no_such_db" does not exist');
    // Nothing listens on port 1: the server may be restarting, so retrying is worth it.
    const refused = (await dumpSchemaHandler.run({ host: '127.0.0.1', port: 1, database: 'sales', file }, makeStepContext()).catch((caught: Error) => caught)) as Error;
    expect(refused.message).toMatch(/^pg\.dumpSchema: pg_dump exited with code 1:\n.*(refused|failed)/s);
    expect(refused).not.toBeInstanceOf(FinalFailure);
  });

  it('fails clearly when the output directory is missing', async () => {
    const file = join(work, 'missing', 'schema.sql');
    await expect(dumpSchemaHandler.run({ ...pg.connectionArgs, database: 'sales', file }, makeStepContext()))
      .rejects.toThrow(`pg.dumpSchema: directory ${join(work, 'missing')} does not exist`);
  });

  it('reads a password variable only through the allow-list, and fails at once for one off it, before pg_dump starts', async () => {
    process.env['CHARTD_TEST_OFF_LIST'] = 'not for pg_dump';
    try {
      const ctx = makeStepContext({ environment: new Environment(new Set()) });
      const error = (await dumpSchemaHandler.run({ ...pg.connectionArgs, database: 'sales', file: join(work, 'schema.sql'), password_env: 'CHARTD_TEST_OFF_LIST' }, ctx)
        .catch((caught: Error) => caught)) as Error;
      expect(error).toBeInstanceOf(FinalFailure);
      expect(error.message).toBe('pg.dumpSchema: environment variable CHARTD_TEST_OFF_LIST (password_env) is not on the allow-list: add it to environment: in the --values file');
      expect(await readdir(work)).toEqual([]);
    } finally {
      delete process.env['CHARTD_TEST_OFF_LIST'];
    }
  });

  it('names, but does not invent, a password variable that is not set', async () => {
    delete process.env['CHARTD_TEST_UNSET_PASSWORD'];
    await expect(dumpBoth('sales', { password_env: 'CHARTD_TEST_UNSET_PASSWORD' }))
      .rejects.toThrow('pg.dumpSchema: environment variable CHARTD_TEST_UNSET_PASSWORD (password_env) is not set on the server');
  });

  it('glues every value to its option, and never puts a password on the command line', () => {
    const args = buildDumpArgs('data', { host: '-h', port: 5433, user: '--help', database: "x' host=evil", file: '-f', password_env: 'PW' }, '/w/-f');
    expect(args).toEqual([
      '--data-only', '--no-password', '--host=-h', "--dbname=dbname='x\\' host=evil'", '--file=/w/-f', '--port=5433', '--username=--help',
    ]);
  });
});

describe('pg passwords', () => {
  const goodPassword = 'c0rrect-H0rse;$(battery) staple';
  const wrongPassword = 'Wr0ng-Pa55word-that-must-not-leak';

  beforeAll(async () => {
    if (!pg.managed) return;
    await pg.psql('postgres', `CREATE ROLE ${PASSWORD_ROLE} LOGIN PASSWORD '${goodPassword.replace(/'/g, "''")}'`);
    await pg.psql('sales', `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${PASSWORD_ROLE}`);
  });
  afterEach(() => {
    delete process.env['CHARTD_TEST_PASSWORD'];
  });

  const passwordArgs = () => ({ host: pg.host, port: pg.port, user: PASSWORD_ROLE, password_env: 'CHARTD_TEST_PASSWORD' });

  it('authenticates with the password from the named environment variable', async (test) => {
    if (!pg.managed) return test.skip();
    process.env['CHARTD_TEST_PASSWORD'] = goodPassword;
    const file = join(work, 'data.sql');
    await dumpDataHandler.run({ ...passwordArgs(), database: 'sales', file }, makeStepContext());
    expect(await readFile(file, 'utf8')).toContain('COPY public.orders');
  });

  it('keeps a wrong password out of the failure report and the log', async (test) => {
    if (!pg.managed) return test.skip();
    process.env['CHARTD_TEST_PASSWORD'] = wrongPassword;
    const ctx = makeStepContext();
    const error = (await dumpDataHandler.run({ ...passwordArgs(), database: 'sales', file: join(work, 'data.sql') }, ctx).catch((caught: Error) => caught)) as Error;
    expect(error.message).toContain(`password authentication failed for user "${PASSWORD_ROLE}"`);
    expect(error.message).not.toContain(wrongPassword);
    expect(JSON.stringify(ctx.entries)).not.toContain(wrongPassword);
    expect(await readdir(work)).toEqual([]);
  });

  it('passes the password in the environment only, and an abort kills a blocked pg_dump', async () => {
    const managed = pg.managed;
    if (managed) process.env['CHARTD_TEST_PASSWORD'] = goodPassword;
    const args = managed ? passwordArgs() : pg.connectionArgs;
    // An exclusive lock held by another session makes pg_dump wait, so it is still running when we look.
    const locker = spawn('psql', ['--no-psqlrc', '--dbname=sales', '--command=BEGIN; LOCK TABLE customers IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);'], {
      env: { ...process.env, ...pg.connectionEnv }, stdio: 'ignore',
    });
    try {
      await expect.poll(() => pg.psql('sales', "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'customers'::regclass AND granted"), { timeout: 10_000 })
        .toBe('1\n');
      const controller = new AbortController();
      const file = join(work, 'data.sql');
      // The password variable is on the allow-list: the child gets it as PGPASSWORD only, not under its own name.
      const environment = new Environment(new Set(['CHARTD_TEST_PASSWORD']));
      const dumping = dumpDataHandler.run({ ...args, database: 'sales', file }, makeStepContext({ signal: controller.signal, environment }));
      const pid = await findProcess('pg_dump', work);
      const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      expect(commandLine).toContain('--data-only');
      if (managed) {
        expect(commandLine).not.toContain(goodPassword);
        const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
        expect(environ).toContain(`PGPASSWORD=${goodPassword}`);
        expect(environ.filter((entry) => entry.startsWith('CHARTD_TEST_PASSWORD='))).toEqual([]);
      }
      controller.abort();
      await expect(dumping).rejects.toThrow(/^pg\.dumpData: pg_dump aborted; killed/);
      expect(await exists(file)).toBe(false);
      expect(await readdir(work)).toEqual([]);
    } finally {
      locker.kill();
      await pg.psql('postgres', "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()");
    }
  });
});

/** The pid of a running program whose command line mentions `needle`. */
async function findProcess(program: string, needle: string): Promise<number> {
  for (let i = 0; i < 200; i += 1) {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      const [file] = commandLine.split('\0');
      if (file?.endsWith(program) && commandLine.includes(needle)) return Number(entry);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no running ${program} mentions ${needle}`);
}
