// What a request costs PostgreSQL in statements: BENCH_REPLICAS replicas (1 unless set) under GET, then under durable PUT, with
// pg_stat_statements on the throwaway cluster; prints each statement's calls and time per request, and the WAL
// written and flushed per request. Run after `npm run build`; BENCH_SECONDS and BENCH_CONNECTIONS (the first) apply.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { cpuSpent, startPostgres } from './lib/postgres.mjs';
import { createInstances, runLoad, startServer } from './lib/processes.mjs';

const config = readConfig();
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const gate = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const INSTANCES = config.spread;
const CONNECTIONS = config.connections[0];
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 1);

const root = await mkdtemp(join(config.dir, 'chartd-bench-statements-'));
const pg = await startPostgres(config.dir, ["shared_preload_libraries = 'pg_stat_statements'", 'pg_stat_statements.track = all', 'pg_stat_statements.track_planning = on', 'track_wal_io_timing = on']);
let servers = [];
try {
  pg.psql('CREATE EXTENSION pg_stat_statements');
  for (let at = 0; at < REPLICAS; at++) {
    servers.push(await startServer(`chartd ${at + 1}`, [CLI, 'serve', '--chart', gate, '--default-chart', 'bench-gate', '--store', pg.url, '--port', '0', '--log-level', 'warn']));
  }
  const owned = Math.floor(INSTANCES / REPLICAS);
  for (let replica = 0; replica < REPLICAS; replica++) await createInstances(servers[replica].url, `r${replica}-`, owned);
  // Each replica its share of the connections and, for PUT, instances of its own.
  const load = (request, seconds, warmupRequests = 0) => Promise.all(servers.map((server, at) => runLoad(config.loader, {
    url: server.url, pid: server.pid, ...request, path: request.path.replace('{r}', String(at)), connections: Math.max(1, Math.round(CONNECTIONS / REPLICAS)), seconds, warmup: 0, warmupRequests,
  })));
  const figures = [
    { figure: 'GET /state?state=open', method: 'GET', path: '/state?state=open' },
    { figure: `durable PUT, spread over ${INSTANCES} instances`, method: 'PUT', path: '/charts/bench-gate/instances/r{r}-{i}/state?state=open', instances: owned },
  ];
  for (const { figure, ...request } of figures) {
    // Warm up, then count from zero.
    await load(request, 1, config.warmupRequests);
    pg.psql('SELECT pg_stat_statements_reset(), pg_stat_reset_shared(\'wal\')');
    const before = pg.cpuSeconds();
    const results = await load(request, config.seconds);
        const n = results.reduce((sum, result) => sum + result.ok, 0);
    const rps = results.reduce((sum, result) => sum + result.rps, 0);
    const chartdUs = results.reduce((sum, result) => sum + result.cpuUs * result.ok, 0) / n;
    const pgCpu = cpuSpent(before, pg.cpuSeconds());
    console.log(`\n## ${figure}: ${Math.round(rps)} req/s at ${CONNECTIONS} connections on ${REPLICAS} replica(s), chartd ${chartdUs.toFixed(0)} µs + PostgreSQL ${(pgCpu * 1e6 / n).toFixed(0)} µs of CPU a request\n`);
    console.log(pg.psql(`SELECT round(calls::numeric / ${n}, 3) AS calls_a_request, round((total_exec_time * 1000 / ${n})::numeric, 1) AS exec_us_a_request, round((total_plan_time * 1000 / ${n})::numeric, 1) AS plan_us_a_request, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query FROM pg_stat_statements WHERE calls > 0 ORDER BY calls DESC LIMIT 25`));
    console.log(pg.psql(`SELECT round(wal_records::numeric / ${n}, 2) AS wal_records_a_request, round(wal_bytes::numeric / ${n}) AS wal_bytes_a_request, round(wal_write::numeric / ${n}, 3) AS writes_a_request, round(wal_sync::numeric / ${n}, 3) AS syncs_a_request, round((wal_sync_time * 1000 / ${n})::numeric, 1) AS sync_us_a_request FROM pg_stat_wal`));
  }
} finally {
  await Promise.all(servers.map((server) => server.stop()));
  pg.stop();
  await rm(root, { recursive: true, force: true });
}
