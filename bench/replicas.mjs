// chartd on PostgreSQL beside the embedded store, in one run: GET and durable PUT at each connection count with one
// replica and with three (each loaded by its own loader, its share of the connections, on instances of its own), and
// how fast a long-poll on one replica hears of a transition committed on another. PostgreSQL is a throwaway cluster
// on this machine, durable as in production (fsync and synchronous_commit on). Run after `npm run build`; writes
// bench/replicas-results.md. BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS as for the other benchmarks; each server is
// warmed up until it has answered BENCH_WARMUP_REQUESTS requests (5,000 unless set), however its share of the load.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { writeComparison } from './lib/comparison.mjs';
import { cpuSpent, startPostgres } from './lib/postgres.mjs';
import { createInstances, runLoad, startChartd, startServer } from './lib/processes.mjs';
import { median, percentile } from './lib/stats.mjs';

const config = readConfig();
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const gate = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const loop = fileURLToPath(new URL('charts/loop.yaml', import.meta.url));
const resultsFile = fileURLToPath(new URL('replicas-results.md', import.meta.url));
const say = (line) => process.stderr.write(`${line}\n`);
/** Instances the spread PUT goes round, split among the replicas. */
const INSTANCES = config.spread;
const WAKE_UPS = Number(process.env.BENCH_WAKE_UPS ?? 300);
const CHART_ARGS = ['--chart', loop, '--default-chart', 'bench-gate'];

function startReplica(storeUrl, name) {
  return startServer(name, [CLI, 'serve', '--chart', gate, ...CHART_ARGS, '--store', storeUrl, '--port', '0', '--log-level', 'warn']);
}

/**
 * Loads every server at once, each with its share of the connections and its own instances; one summed result.
 * All are warmed up first, each until it has answered its warm-up requests, and then measured together, so the
 * measured runs overlap and PostgreSQL's CPU is counted over them alone.
 */
async function loadAll(servers, request, connections, pg) {
  const shares = servers.map((_, at) => Math.floor(connections / servers.length) + (at < connections % servers.length ? 1 : 0));
  const load = (timing) => Promise.all(servers.map((server, at) => {
    const spread = request.spread ? { path: request.path.replace('{prefix}', `r${at}-`), instances: Math.floor(INSTANCES / servers.length) } : {};
    return runLoad(config.loader, { url: server.url, pid: server.pid, method: request.method, path: request.path, ...spread, connections: shares[at], ...timing });
  }));
  await load({ seconds: 1, warmup: config.warmup, warmupRequests: config.warmupRequests });
  const pgBefore = pg?.cpuSeconds();
  const results = await load({ seconds: config.seconds, warmup: 0 });
  const ok = results.reduce((sum, result) => sum + result.ok, 0);
  const chartdCpu = results.reduce((sum, result) => sum + (result.cpuUs * result.ok) / 1e6, 0);
  const pgCpu = pg ? cpuSpent(pgBefore, pg.cpuSeconds()) : 0;
  return {
    rps: results.reduce((sum, result) => sum + result.rps, 0),
    chartdUs: (chartdCpu * 1e6) / ok,
    pgUs: (pgCpu * 1e6) / ok,
    p99: Math.max(...results.map((result) => result.p99)),
  };
}

/** From a PUT acknowledged by `a` to the long-poll on `b` answering, `count` times. */
async function wakeUps(a, b, count) {
  const created = await fetch(`${a.url}/charts/bench-loop/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"wake"}' });
  if (created.status !== 201) throw new Error(`creating the wake-up instance: ${created.status}`);
  let revision = (await created.json()).revision;
  const delays = [];
  for (let at = 0; at < count; at++) {
    const polling = fetch(`${b.url}/charts/bench-loop/instances/wake?index=${revision}&wait=10s`).then(async (answer) => {
      const body = await answer.json();
      return { at: performance.now(), revision: body.revision };
    });
    // The long-poll must be parked on b before the PUT; the blocking query answers at once if it is not current.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const put = await fetch(`${a.url}/charts/bench-loop/instances/wake/state?state=loop&event=tick`, { method: 'PUT' });
    const acknowledged = performance.now();
    if (put.status !== 200) throw new Error(`PUT on ${a.url}: ${put.status}`);
    const heard = await polling;
    if (heard.revision <= revision) throw new Error(`the long-poll on ${b.url} answered revision ${heard.revision}, not past ${revision}`);
    revision = heard.revision;
    delays.push(Math.max(0, heard.at - acknowledged));
  }
  delays.sort((x, y) => x - y);
  return { p50: percentile(delays, 0.5), p99: percentile(delays, 0.99), max: delays.at(-1) };
}

const FIGURES = [
  { figure: 'GET /state?state=open', method: 'GET', path: '/state?state=open' },
  { figure: `durable PUT, spread over ${INSTANCES} instances`, method: 'PUT', path: '/charts/bench-gate/instances/{prefix}{i}/state?state=open', spread: true },
];
const SETUPS = [
  { key: 'embedded', name: 'embedded store (--data)', replicas: 1 },
  { key: 'pg1', name: 'PostgreSQL, 1 replica', replicas: 1 },
  { key: 'pg3', name: 'PostgreSQL, 3 replicas', replicas: 3 },
];

const root = await mkdtemp(join(config.dir, 'chartd-bench-replicas-'));
const pg = await startPostgres(config.dir);
let running = [];
try {
  const rows = [];
  for (const connections of config.connections) {
    const rounds = new Map();
    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 ? [...SETUPS].reverse() : SETUPS;
      for (const setup of order) {
        // Fresh servers and an empty store for every setup of every round.
        if (setup.key === 'embedded') {
          running = [await startChartd({ chartFile: gate, dataDir: join(root, `embedded-${connections}-${round}`), extraArgs: CHART_ARGS })];
        } else {
          pg.reset();
          running = [];
          for (let at = 0; at < setup.replicas; at++) running.push(await startReplica(pg.url, `chartd replica ${at + 1}`));
        }
        for (const [at, server] of running.entries()) await createInstances(server.url, `r${at}-`, Math.floor(INSTANCES / running.length));
        for (const figure of FIGURES) {
          const result = await loadAll(running, figure, connections, setup.key === 'embedded' ? undefined : pg);
          const key = `${figure.figure}|${setup.key}`;
          rounds.set(key, [...(rounds.get(key) ?? []), result]);
          say(`round ${round + 1}, ${connections} connections, ${setup.name}, ${figure.figure}: ${Math.round(result.rps)} req/s, chartd ${result.chartdUs.toFixed(0)} µs + PostgreSQL ${result.pgUs.toFixed(0)} µs of CPU a request`);
        }
        await Promise.all(running.map((server) => server.stop()));
        running = [];
      }
    }
    for (const { figure } of FIGURES) {
      const embedded = rounds.get(`${figure}|embedded`);
      for (const setup of SETUPS) {
        const results = rounds.get(`${figure}|${setup.key}`);
        const ratio = median(results.map((result, at) => result.rps / embedded[at].rps));
        rows.push(`| ${figure} | ${connections} | ${setup.name} | ${Math.round(median(results.map((r) => r.rps))).toLocaleString('en-US')} | ${setup.key === 'embedded' ? '1' : ratio.toFixed(2)}× | ${median(results.map((r) => r.chartdUs)).toFixed(0)} µs | ${setup.key === 'embedded' ? '' : `${median(results.map((r) => r.pgUs)).toFixed(0)} µs`} | ${median(results.map((r) => r.p99)).toFixed(1)} |`);
      }
    }
  }
  pg.reset();
  const a = await startReplica(pg.url, 'chartd replica A');
  const b = await startReplica(pg.url, 'chartd replica B');
  running = [a, b];
  const wake = await wakeUps(a, b, WAKE_UPS);
  say(`wake-ups across replicas: p50 ${wake.p50.toFixed(1)} ms, p99 ${wake.p99.toFixed(1)} ms, max ${wake.max.toFixed(1)} ms`);
  await Promise.all(running.map((server) => server.stop()));
  running = [];

  await writeComparison(resultsFile, {
    title: 'chartd on PostgreSQL beside the embedded store',
    dir: root,
    table: [
      '| Figure | Connections | Store | req/s (all replicas) | × embedded | chartd CPU a request (all replicas) | PostgreSQL CPU a request | p99 ms |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      `A long-poll on replica B (\`index=REV&wait=10s\`) answered after a PUT acknowledged by replica A: p50 ${wake.p50.toFixed(1)} ms, p99 ${wake.p99.toFixed(1)} ms, max ${wake.max.toFixed(1)} ms over ${WAKE_UPS} transitions.`,
    ],
    lines: [
      `\`node bench/replicas.mjs\` (loader ${config.loader}, ${config.rounds} rounds × ${config.seconds} s after a warm-up of ${config.warmup} s and at least ${config.warmupRequests} requests a server; fresh servers and an empty store for every setup of every round, the setups in turn, every other round in reverse).`,
      'PostgreSQL is a throwaway cluster on this machine (Debian\'s, default settings: fsync, synchronous_commit and full_page_writes on), sharing its two cores with chartd and the loaders.',
      'With three replicas, each has its own loader with a third of the connections, and PUTs go to instances of its own. req/s is the median round; × embedded is the median of the rounds\' ratios;',
      'CPU a request is the replicas\' (and, apart, PostgreSQL\'s) CPU time over the requests answered.',
    ],
  });
} finally {
  await Promise.all(running.map((server) => server.stop().catch(() => undefined)));
  pg.stop();
  if (!config.keep) await rm(root, { recursive: true, force: true });
}
