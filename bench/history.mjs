// What a long history costs a PUT: the spread PUT on 1,000 instances that each keep a full history (50 transitions)
// beside the same on 1,000 fresh ones (their creation only), and on a second fresh server as a control whose ratio
// shows what the machine's noise alone does; rounds in turn; writes bench/history-results.md. Run after `npm run build`.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HISTORY_LIMIT } from '../dist/engine/snapshot.js';
import { readConfig } from './lib/config.mjs';
import { summarize, writeComparison } from './lib/comparison.mjs';
import { runLoad, runSeed, startChartd } from './lib/processes.mjs';
import { pairedRatio } from './lib/stats.mjs';

const config = readConfig();
const chartFile = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const resultsFile = fileURLToPath(new URL('history-results.md', import.meta.url));
const say = (line) => process.stderr.write(`${line}\n`);
const PUT_SPREAD = { method: 'PUT', path: '/charts/bench-gate/instances/i-{i}/state?state=open' };
const KINDS = { fresh: 1, full: HISTORY_LIMIT, control: 1 };

const root = await mkdtemp(join(config.dir, 'chartd-bench-history-'));
const servers = {};
try {
  for (const [kind, history] of Object.entries(KINDS)) {
    const dataDir = join(root, kind);
    const seeded = await runSeed({ dataDir, chartFile, count: config.spread, history });
    say(`seeded ${config.spread} instances with ${history} transition(s) each (${seeded.bytesPerInstance} bytes of snapshot JSON) in ${seeded.ms} ms`);
    servers[kind] = await startChartd({ chartFile, dataDir, name: `chartd, ${kind} history` });
  }
  const load = (server, connections) =>
    runLoad(config.loader, { url: server.url, pid: server.pid, ...PUT_SPREAD, connections, instances: config.spread, seconds: config.seconds, warmup: config.warmup });

  const rows = [];
  for (const connections of config.connections) {
    const kinds = Object.keys(KINDS);
    const rounds = Object.fromEntries(kinds.map((kind) => [kind, []]));
    for (let round = 0; round < config.rounds; round++) {
      // Every other round takes the servers in reverse order, so none always runs right after another.
      for (const kind of round % 2 ? [...kinds].reverse() : kinds) rounds[kind].push(await load(servers[kind], connections));
    }
    const [fresh, full, control] = kinds.map((kind) => summarize(rounds[kind]));
    const row = { connections, fresh, full, control, ratio: pairedRatio(full, fresh), controlRatio: pairedRatio(control, fresh) };
    rows.push(row);
    say(`spread PUT at ${connections}: ${Math.round(fresh.rps)} req/s (${fresh.cpuUs.toFixed(0)} µs) fresh | ${Math.round(full.rps)} req/s (${full.cpuUs.toFixed(0)} µs) full history: ${row.ratio.toFixed(2)}× | control ${row.controlRatio.toFixed(2)}×`);
  }
  const table = [
    `| Figure | Connections | fresh req/s | full history req/s | × fresh (target ≥ 0.9×) | control × fresh | server CPU per request, fresh / full / control | p50 ms, fresh / full |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| durable PUT, spread over ${config.spread} instances | ${row.connections} | ${Math.round(row.fresh.rps).toLocaleString('en-US')} | ${Math.round(row.full.rps).toLocaleString('en-US')} | ${row.ratio.toFixed(2)}× ${row.ratio >= 0.9 ? 'PASS' : 'FAIL'} | ${row.controlRatio.toFixed(2)}× | ${row.fresh.cpuUs.toFixed(0)} / ${row.full.cpuUs.toFixed(0)} / ${row.control.cpuUs.toFixed(0)} µs | ${row.fresh.p50.toFixed(2)} / ${row.full.p50.toFixed(2)} |`),
  ];
  await writeComparison(resultsFile, {
    title: 'PUT on instances with a full history',
    dir: root,
    table,
    lines: [
      `\`node bench/history.mjs\` (loader ${config.loader}, ${config.rounds} rounds × ${config.seconds} s, the two servers in turn, every other round in reverse order; each ratio is the median of the rounds' ratios).`,
      `Three servers of bench/charts/gate.yaml, each on ${config.spread} seeded instances: fresh ones (their creation only in their history), ones with a full history (${HISTORY_LIMIT} transitions), and fresh ones again as a control.`,
    ],
  });
} finally {
  for (const server of Object.values(servers)) await server.stop();
  if (!config.keep) await rm(root, { recursive: true, force: true });
}
