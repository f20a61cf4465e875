// A throwaway PostgreSQL cluster for a benchmark: Debian's initdb/pg_ctl on a loopback port, durable as in production
// (fsync, synchronous_commit and full_page_writes left on), run as the postgres system user when the bench runs as root.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, appendFileSync, chownSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { serverCpuSeconds } from './loadSpec.mjs';

function findBin() {
  const versions = (() => {
    try {
      return readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    } catch {
      return [];
    }
  })();
  for (const directory of [...(process.env.PATH ?? '').split(':'), ...versions.map((v) => `/usr/lib/postgresql/${v}/bin`)]) {
    try {
      accessSync(join(directory, 'initdb'), constants.X_OK);
      accessSync(join(directory, 'pg_ctl'), constants.X_OK);
      return directory;
    } catch {
      // not here
    }
  }
  throw new Error('initdb not found on PATH or in /usr/lib/postgresql/*/bin: apt-get install postgresql');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** CPU seconds spent between two cpuSeconds() reads. */
export function cpuSpent(before, after) {
  let total = 0;
  for (const [pid, seconds] of after) if (before.has(pid)) total += seconds - before.get(pid);
  return total;
}

/** Starts a cluster under `dir`; resolves with its postgres:// URL for database `chartd`, and stop(). `settings`: lines for postgresql.conf. */
export async function startPostgres(dir, settings = []) {
  const bin = findBin();
  const root = mkdtempSync(join(dir, 'chartd-bench-pg-'));
  const data = join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(root, id('-u'), id('-g'));
  }
  const run = (program, args) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), args];
    const result = spawnSync(file, argv, { cwd: root, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} failed:\n${result.stderr}${result.stdout}`);
  };
  run('initdb', [`--pgdata=${data}`, '--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']);
  const port = await freePort();
  appendFileSync(join(data, 'postgresql.conf'), [
    '', "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${root}'`, 'max_connections = 200', ...settings, '',
  ].join('\n'));
  writeFileSync(join(data, 'postgresql.auto.conf'), `port = ${port}\n`);
  run('pg_ctl', [`--pgdata=${data}`, `--log=${join(root, 'server.log')}`, '--wait', '--timeout=60', 'start']);
  const sql = (statement) => {
    const result = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-q', '-v', 'ON_ERROR_STOP=1', '-c', statement], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`psql -c ${statement} failed:\n${result.stderr}`);
  };
  try {
    sql('CREATE DATABASE chartd');
  } catch (error) {
    run('pg_ctl', [`--pgdata=${data}`, '--mode=immediate', '--wait', 'stop']);
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/chartd`,
    /** The postgres processes' pids (postmaster and backends), for their CPU time. */
    pids() {
      const postmaster = readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0].trim();
      const children = spawnSync('pgrep', ['-P', postmaster], { encoding: 'utf8' }).stdout;
      return [postmaster, ...children.split('\n')].filter(Boolean).map(Number);
    },
    /** CPU seconds of each PostgreSQL process alive now (backends come and go: cpuSpent counts those present at both reads). */
    cpuSeconds() {
      const seconds = new Map();
      for (const pid of this.pids()) {
        try {
          seconds.set(pid, serverCpuSeconds(pid));
        } catch {
          // gone meanwhile
        }
      }
      return seconds;
    },
    /** The rows of `query` in database `database`, as psql prints them unaligned. */
    psql(query, database = 'chartd') {
      const result = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', database, '-A', '-F', ' | ', '-v', 'ON_ERROR_STOP=1', '-c', query], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`psql -c ${query} failed:\n${result.stderr}`);
      return result.stdout;
    },
    /** Drops and creates the database again: every figure starts on an empty store. */
    reset() {
      sql('DROP DATABASE IF EXISTS chartd WITH (FORCE)');
      sql('CREATE DATABASE chartd');
    },
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', [`--pgdata=${data}`, '--mode=fast', '--wait', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
