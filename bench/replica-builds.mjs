// Two builds of chartd on PostgreSQL side by side: this checkout's and another's (`node bench/replica-builds.mjs
// OTHER_CHECKOUT`), durable PUT spread over instances with BENCH_REPLICAS replicas (1 unless set) at the first of
// BENCH_CONNECTIONS in all, fresh database and servers every round, the builds in turn and every other round in
// reverse, each replica warmed up with BENCH_WARMUP_REQUESTS PUTs (5,000 unless set). Prints each round and the medians: requests a second and the CPU of a request, chartd's (every replica's,
// the loaded ones' and the listening ones') and PostgreSQL's. BENCH_LOAD_ONE=1 loads the first replica alone, so
// the others only listen: what hearing another replica's commits costs. Run `npm run build` in both checkouts first.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { serverCpuSeconds } from './lib/loadSpec.mjs';
import { cpuSpent, startPostgres } from './lib/postgres.mjs';
import { createInstances, runLoad, startServer } from './lib/processes.mjs';
import { median } from './lib/stats.mjs';

const config = readConfig();
const other = process.argv[2];
if (!other || !existsSync(join(resolve(other), 'dist', 'cli', 'main.js'))) {
  process.stderr.write('usage: node bench/replica-builds.mjs OTHER_CHECKOUT   (both built with npm run build)\n');
  process.exit(2);
}
const builds = [{ name: 'this', cli: fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)) }, { name: 'other', cli: join(resolve(other), 'dist', 'cli', 'main.js') }];
const gate = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 1);
const LOAD_ONE = process.env.BENCH_LOAD_ONE === '1';
const CONNECTIONS = config.connections[0];
const INSTANCES = config.spread;

async function round(pg, cli) {
  pg.reset();
  const servers = [];
  try {
    for (let at = 0; at < REPLICAS; at++) servers.push(await startServer(`replica ${at + 1}`, [cli, 'serve', '--chart', gate, '--default-chart', 'bench-gate', '--store', pg.url, '--port', '0', '--log-level', 'warn']));
    const loaded = LOAD_ONE ? servers.slice(0, 1) : servers;
    const owned = Math.floor(INSTANCES / loaded.length);
    for (const [at, server] of loaded.entries()) await createInstances(server.url, `r${at}-`, owned);
    const load = (seconds, warmupRequests = 0) => Promise.all(loaded.map((server, at) => runLoad(config.loader, {
      url: server.url, pid: server.pid, method: 'PUT', path: `/charts/bench-gate/instances/r${at}-{i}/state?state=open`, instances: owned,
      connections: Math.max(1, Math.round(CONNECTIONS / loaded.length)), seconds, warmup: 0, warmupRequests,
    })));
    await load(config.warmup || 1, config.warmupRequests);
    const before = servers.map((server) => serverCpuSeconds(server.pid));
    const pgBefore = pg.cpuSeconds();
    const results = await load(config.seconds);
    const cpu = servers.map((server, at) => serverCpuSeconds(server.pid) - before[at]);
    const requests = results.reduce((sum, result) => sum + result.ok, 0);
    const perRequest = (seconds) => (seconds * 1e6) / requests;
    return {
      rps: results.reduce((sum, result) => sum + result.rps, 0),
      loadedUs: perRequest(cpu.slice(0, loaded.length).reduce((a, b) => a + b, 0)),
      listeningUs: perRequest(cpu.slice(loaded.length).reduce((a, b) => a + b, 0)),
      pgUs: perRequest(cpuSpent(pgBefore, pg.cpuSeconds())),
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

const shown = (figures) => `${Math.round(figures.rps)} PUT/s, CPU a request: chartd ${figures.loadedUs.toFixed(0)} µs${LOAD_ONE ? ` (+ ${figures.listeningUs.toFixed(0)} µs listening)` : ''}, PostgreSQL ${figures.pgUs.toFixed(0)} µs`;
const pg = await startPostgres(config.dir);
const measured = new Map(builds.map((build) => [build.name, []]));
try {
  console.log(`# durable PUT over ${INSTANCES} instances, ${REPLICAS} replica(s)${LOAD_ONE ? ', the first loaded alone' : ''}, ${CONNECTIONS} connections, ${config.rounds} rounds of ${config.seconds} s`);
  for (let at = 0; at < config.rounds; at++) {
    for (const build of at % 2 ? [...builds].reverse() : builds) {
      const figures = await round(pg, build.cli);
      measured.get(build.name).push(figures);
      console.log(`round ${at + 1}, ${build.name}: ${shown(figures)}`);
    }
  }
  for (const [name, rounds] of measured) {
    const middle = (field) => median(rounds.map((figures) => figures[field]));
    console.log(`median, ${name}: ${shown({ rps: middle('rps'), loadedUs: middle('loadedUs'), listeningUs: middle('listeningUs'), pgUs: middle('pgUs') })}`);
  }
} finally {
  pg.stop();
}
