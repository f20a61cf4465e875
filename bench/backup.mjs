// Backup benchmark: `chartd run charts/backup-and-encrypt.yaml` against the same work done by a plain shell pipeline.
// Usage: npm run build && node bench/backup.mjs [--rows 600000] [--runs 3] [--out bench/backup-results.md] [--cli dist/cli/main.js]
// A throwaway PostgreSQL cluster and gpg home are made and removed; runs alternate so a noisy neighbour hits both alike.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.mjs';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '600000' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: fileURLToPath(new URL('./backup-results.md', import.meta.url)) },
    // Another build to compare, e.g. a copy of dist/ with a change under test.
    cli: { type: 'string', default: fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)) },
  },
});
const ROWS = Number(args.rows);
const RUNS = Number(args.runs);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = resolve(args.cli);
const CHART = join(ROOT, 'charts/backup-and-encrypt.yaml');
const DATABASE = 'bench_sales';
const EMPTY_DATABASE = 'bench_empty';
const TARGET = 1.15;

const work = mkdtempSync(join(tmpdir(), 'chartd-bench-backup-'));
const cleanups = [];
process.on('exit', () => {
  for (const cleanup of cleanups.reverse()) {
    try { cleanup(); } catch { /* best effort: the process is ending */ }
  }
  rmSync(work, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

function sh(file, argv, options = {}) {
  return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

/** initdb and postgres refuse root, so as root they run as the postgres system user (as test/support/postgres.ts does). */
function asPostgres(file, argv) {
  return process.getuid?.() === 0 ? sh('runuser', ['-u', 'postgres', '--', file, ...argv], { cwd: work }) : sh(file, argv, { cwd: work });
}

function startCluster() {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  const bin = versions.map((version) => `/usr/lib/postgresql/${version}/bin`).find((dir) => existsSync(join(dir, 'initdb')));
  if (!bin) throw new Error('initdb not found in /usr/lib/postgresql/*/bin; install postgresql');
  const cluster = join(work, 'pg');
  const data = join(cluster, 'data');
  execFileSync('mkdir', ['-p', cluster]);
  if (process.getuid?.() === 0) {
    const uid = Number(sh('id', ['-u', 'postgres']).trim());
    const gid = Number(sh('id', ['-g', 'postgres']).trim());
    chownSync(work, uid, gid);
    chownSync(cluster, uid, gid);
  }
  asPostgres(join(bin, 'initdb'), [`--pgdata=${data}`, '--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
  const port = 20000 + Math.floor(Math.random() * 20000);
  appendFileSync(join(data, 'postgresql.conf'), [
    '', "listen_addresses = '127.0.0.1'", `port = ${port}`, `unix_socket_directories = '${cluster}'`,
    'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'shared_buffers = 256MB', '',
  ].join('\n'));
  asPostgres(join(bin, 'pg_ctl'), [`--pgdata=${data}`, `--log=${join(cluster, 'server.log')}`, '--wait', 'start']);
  cleanups.push(() => asPostgres(join(bin, 'pg_ctl'), [`--pgdata=${data}`, '--mode=immediate', '--wait', 'stop']));
  return { host: '127.0.0.1', port, version: sh(join(bin, 'postgres'), ['--version']).trim() };
}

function psql(pg, database, sql) {
  return sh('psql', ['--no-psqlrc', '--quiet', '--no-align', '--tuples-only', '--set=ON_ERROR_STOP=1', '-h', pg.host, '-p', String(pg.port), '-U', 'postgres', '-d', database, '-c', sql]).trim();
}

/** Customers and orders with text, numerics, timestamps and NULLs: a dump that compresses like real data. */
function createDatabase(pg, name, rows) {
  psql(pg, 'postgres', `DROP DATABASE IF EXISTS ${name}`);
  psql(pg, 'postgres', `CREATE DATABASE ${name}`);
  const customers = Math.floor(rows / 10);
  psql(pg, name, `
    CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, email text, balance numeric(14,2), created timestamptz);
    CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id), placed_at timestamptz NOT NULL,
      total numeric(12,2), status text, memo text);
    INSERT INTO customers SELECT i, 'customer ' || i, 'c' || i || '@example.com', (random() * 100000)::numeric(14,2),
      '2020-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, ${customers}) AS i;
    INSERT INTO orders SELECT i, 1 + (i % ${customers}), '2024-01-01'::timestamptz + i * interval '7 seconds', (random() * 1000)::numeric(12,2),
      (ARRAY['new','paid','shipped','returned'])[1 + i % 4], CASE WHEN i % 5 = 0 THEN NULL ELSE md5(i::text) || ' ' || md5((i * 7)::text) END
      FROM generate_series(1, ${rows}) AS i;
    CREATE INDEX ON orders (customer_id);
    ANALYZE;
  `);
  return psql(pg, name, `SELECT pg_size_pretty(pg_database_size('${name}'))`);
}

function makeGpgHome() {
  const home = join(work, 'gnupg');
  execFileSync('mkdir', ['-p', home]);
  chmodSync(home, 0o700);
  const recipient = 'bench@chartd.invalid';
  sh('gpg', ['--batch', '--no-tty', '--homedir', home, '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', `bench <${recipient}>`, 'future-default', 'default', 'never']);
  cleanups.push(() => sh('gpgconf', ['--homedir', home, '--kill', 'all']));
  return { home, recipient };
}

function stampOf(date) {
  return `${date.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}

/**
 * backup-and-encrypt's happy path as one shell script: the same programs with the same options the chart's handlers pass
 * (pg_dump --schema-only/--data-only, tar --gzip, gpg --trust-model always). With DURABLE=1 it also fsyncs
 * each file and directory chartd fsyncs, so both sides leave the same guarantee after a power cut.
 */
const PIPELINE = `set -eu
durable() { if [ "$DURABLE" = 1 ]; then sync -- "$@"; fi; }
base="$STORAGE/intermediate/acme/$DB"
mkdir -p "$base"
mkdir -p "$base/$STAMP"
pg_dump --schema-only --no-password --host="$PGH" --port="$PGP" --username=postgres --dbname="$DB" --file="$base/$STAMP/schema.sql"
durable "$base/$STAMP/schema.sql" "$base/$STAMP"
pg_dump --data-only --no-password --host="$PGH" --port="$PGP" --username=postgres --dbname="$DB" --file="$base/$STAMP/data.sql"
durable "$base/$STAMP/data.sql" "$base/$STAMP"
tar --create --file="$base/$STAMP.tar.gz" --gzip --directory="$base" -- "$STAMP"
durable "$base/$STAMP.tar.gz" "$base"
rm -rf "$base/$STAMP"
gpg --batch --yes --no-tty --trust-model always --homedir "$GNUPGHOME_DIR" --recipient "$RECIPIENT" --output "$base/$STAMP.tar.gz.gpg" --encrypt -- "$base/$STAMP.tar.gz"
durable "$base/$STAMP.tar.gz.gpg" "$base"
mkdir -p "$STORAGE/long_term/acme/$DB/FY$FY"
mv "$base/$STAMP.tar.gz.gpg" "$STORAGE/long_term/acme/$DB/FY$FY/$STAMP.tar.gz.gpg"
durable "$STORAGE/long_term/acme/$DB/FY$FY"
rm -f "$base/$STAMP.tar.gz"
rm -rf "$base"
`;

/** CPU seconds used by every child this process has waited for, and their waited-for descendants (Linux). */
function childCpuMs() {
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
  // After "pid (comm) ", cutime and cstime are fields 14 and 15 (0-based), in clock ticks of 10 ms.
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** Wall and CPU milliseconds of one child run. */
function timed(file, argv, env = {}) {
  return new Promise((resolve, reject) => {
    const cpuBefore = childCpuMs();
    const started = process.hrtime.bigint();
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd: ROOT });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) reject(new Error(`${file} exited with ${code}:\n${output}`));
      else resolve({ ms, cpuMs: childCpuMs() - cpuBefore });
    });
  });
}

function runShell(pg, gpg, database, storage, durable) {
  const now = new Date();
  return timed('bash', ['-c', PIPELINE], {
    DURABLE: durable ? '1' : '0', STORAGE: storage, DB: database, STAMP: stampOf(now), FY: String(now.getUTCFullYear()), PGH: pg.host, PGP: String(pg.port),
    GNUPGHOME_DIR: gpg.home, RECIPIENT: gpg.recipient,
  });
}

function runChartd(pg, gpg, database, storage) {
  const set = { client_name: 'acme', database, postgresql_host: pg.host, postgresql_port: pg.port, storage_root: storage,
    eoy_month: 12, key_name: gpg.recipient, gnupg_home: gpg.home };
  return timed(process.execPath, [CLI, 'run', CHART, ...Object.entries(set).flatMap(([key, value]) => ['--set', `${key}=${value}`])]);
}

/** The one backup a run left, checked: exactly one file in long-term storage, none in the intermediate area. */
function theBackup(storage) {
  const files = (dir) => (existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name)) : []);
  const backups = files(join(storage, 'long_term'));
  const leftovers = files(join(storage, 'intermediate'));
  if (backups.length !== 1 || leftovers.length !== 0) throw new Error(`expected one backup and no leftovers, found ${backups.map((file) => relative(storage, file))} and ${leftovers}`);
  return statSync(backups[0]).size;
}

const seconds = (ms) => (ms / 1000).toFixed(2);
const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1);

/** Times each side `RUNS` times after one untimed round (page cache, gpg-agent), rotating the order every round. */
async function measure(sides, label) {
  const names = Object.keys(sides);
  const times = Object.fromEntries(names.map((name) => [name, []]));
  let archiveBytes = 0;
  for (let round = 0; round <= RUNS; round += 1) {
    const order = names.map((_, index) => names[(index + round) % names.length]);
    for (const name of order) {
      const storage = join(work, `storage-${round}`);
      const time = await sides[name].run(storage);
      archiveBytes = theBackup(storage);
      rmSync(storage, { recursive: true, force: true });
      if (round > 0) times[name].push(time);
      console.error(`${label} ${round === 0 ? 'warm-up' : `round ${round}`} ${name}: ${seconds(time.ms)} s wall, ${seconds(time.cpuMs)} s CPU`);
    }
  }
  const summary = Object.fromEntries(names.map((name) => [name, {
    wall: median(times[name].map((time) => time.ms)),
    best: Math.min(...times[name].map((time) => time.ms)),
    cpu: median(times[name].map((time) => time.cpuMs)),
  }]));
  return { times, summary, archiveBytes };
}

async function main() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing; run npm run build first`);
  console.error('starting a throwaway PostgreSQL and gpg home…');
  const pg = startCluster();
  const gpg = makeGpgHome();
  console.error(`creating ${DATABASE} with ${ROWS} orders…`);
  const databaseSize = createDatabase(pg, DATABASE, ROWS);
  createDatabase(pg, EMPTY_DATABASE, 0);

  const sidesFor = (database) => ({
    shell: { label: 'shell pipeline', run: (storage) => runShell(pg, gpg, database, storage, false) },
    'shell+sync': { label: 'shell pipeline + `sync` of the same files', run: (storage) => runShell(pg, gpg, database, storage, true) },
    chartd: { label: '`chartd run`', run: (storage) => runChartd(pg, gpg, database, storage) },
  });
  const full = await measure(sidesFor(DATABASE), DATABASE);
  const empty = await measure(sidesFor(EMPTY_DATABASE), EMPTY_DATABASE);

  const { times, summary: result } = full;
  const names = Object.keys(times);
  const verdict = (ratio) => `${ratio.toFixed(3)}× (${ratio <= TARGET ? 'within' : 'over'} the ${TARGET}× target)`;
  const row = (name) => `| ${sidesFor(DATABASE)[name].label} | ${times[name].map((time) => `${seconds(time.ms)} s`).join(' | ')} | **${seconds(result[name].wall)} s** | ${seconds(result[name].best)} s | ${seconds(result[name].cpu)} s |`;
  const fixed = (key) => seconds(empty.summary.chartd[key] - empty.summary.shell[key]);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const table = [
    '# Backup benchmark: `chartd run` vs a shell pipeline',
    '',
    `Generated by \`node bench/backup.mjs --rows ${ROWS} --runs ${RUNS}\` on ${new Date().toISOString().slice(0, 10)}:`,
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${pg.version}, Node ${process.version}; load average at the end ${load}.`,
    `Database ${DATABASE}: ${databaseSize} on disk; each backup is ${mib(full.archiveBytes)} MiB encrypted.`,
    '',
    'Every side does the seed\'s happy path with the same programs and options: mkdir; `pg_dump --schema-only`;',
    '`pg_dump --data-only`; `tar --create --gzip` (gzip\'s default level everywhere), then remove the dump directory;',
    '`gpg --encrypt`; mkdir; mv; remove the intermediate directory. chartd also starts Node, loads and checks the chart,',
    'runs the six cleanup steps, commits every transition durably, and fsyncs each file it renames into place, so that',
    'a run resumed after a crash never packs a half-written dump; the `+ sync` pipeline does those same fsyncs.',
    '',
    `| side | ${times.shell.map((_, index) => `run ${index + 1}`).join(' | ')} | median wall | best wall | median CPU |`,
    `| --- | ${times.shell.map(() => '---:').join(' | ')} | ---: | ---: | ---: |`,
    ...names.map(row),
    '',
    `- chartd / shell pipeline, median wall time: **${verdict(result.chartd.wall / result.shell.wall)}**; CPU ${(result.chartd.cpu / result.shell.cpu).toFixed(3)}×.`,
    `- chartd / shell pipeline + sync (the same durability), median wall time: **${verdict(result.chartd.wall / result['shell+sync'].wall)}**; CPU ${(result.chartd.cpu / result['shell+sync'].cpu).toFixed(3)}×.`,
    `- Best of ${RUNS}, wall time: chartd / shell ${(result.chartd.best / result.shell.best).toFixed(3)}×, chartd / shell + sync ${(result.chartd.best / result['shell+sync'].best).toFixed(3)}×.`,
    `- Fixed cost, from the same runs on an empty database (${EMPTY_DATABASE}): chartd takes ${fixed('wall')} s more wall time`,
    `  (median; ${fixed('best')} s best) and ${fixed('cpu')} s more CPU than the shell pipeline, whatever the size of the database.`,
    `- So of the ${seconds(result.chartd.wall - result.shell.wall)} s between the medians of chartd and the shell pipeline, the fsyncs account for`,
    `  ${seconds(result['shell+sync'].wall - result.shell.wall)} s (shell + sync − shell) and the fixed cost for ${fixed('wall')} s, leaving`,
    `  ${seconds(result.chartd.wall - result['shell+sync'].wall - (empty.summary.chartd.wall - empty.summary.shell.wall))} s for everything else (time between steps, and noise: compare the spread of the runs).`,
    '',
    'CPU is the user + system time of a run and all its children (pg_dump, tar, gzip, gpg), not the PostgreSQL server\'s;',
    'it is the steadier number when the machine is shared (another process can only add to a wall time, so "best" is',
    'the other robust view).',
    '',
  ].join('\n');
  writeFileSync(args.out, table);
  console.log(table);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
