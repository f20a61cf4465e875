// What metrics and the transition log cost: chartd --no-metrics beside chartd with metrics (and, for PUTs that each
// make a transition, beside one logging at info), GET and durable PUT at each connection count, rounds in turn;
// writes bench/metrics-results.md. Run after `npm run build`.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { summarize, writeComparison } from './lib/comparison.mjs';
import { runLoad, startChartd } from './lib/processes.mjs';
import { pairedRatio } from './lib/stats.mjs';

const config = readConfig();
const gate = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const loop = fileURLToPath(new URL('charts/loop.yaml', import.meta.url));
const resultsFile = fileURLToPath(new URL('metrics-results.md', import.meta.url));
const say = (line) => process.stderr.write(`${line}\n`);

// The servers, each with both charts; the first is the one the others are set against.
const SERVERS = {
  off: { name: '--no-metrics', args: ['--no-metrics'] },
  on: { name: 'metrics', args: [] },
  logged: { name: 'metrics, --log-level info', args: ['--log-level', 'info'] },
};
const FIGURES = [
  { figure: 'GET /state?state=open', request: { method: 'GET', path: '/state?state=open' }, servers: ['off', 'on'] },
  { figure: 'durable PUT, one gate', request: { method: 'PUT', path: '/state?state=open' }, servers: ['off', 'on'] },
  { figure: 'durable PUT, a transition each', request: { method: 'PUT', path: '/charts/bench-loop/state?state=loop&event=tick' }, servers: ['off', 'on', 'logged'] },
];

const root = await mkdtemp(join(config.dir, 'chartd-bench-metrics-'));
const running = {};
try {
  for (const [key, server] of Object.entries(SERVERS)) {
    running[key] = await startChartd({
      chartFile: gate, dataDir: join(root, key), name: `chartd ${server.name}`, extraArgs: ['--chart', loop, '--default-chart', 'bench-gate', ...server.args],
    });
  }
  const load = (server, request, connections) =>
    runLoad(config.loader, { url: server.url, pid: server.pid, ...request, connections, seconds: config.seconds, warmup: config.warmup });

  const rows = [];
  for (const connections of config.connections) {
    for (const { figure, request, servers } of FIGURES) {
      const rounds = Object.fromEntries(servers.map((key) => [key, []]));
      for (let round = 0; round < config.rounds; round++) {
        for (const key of servers) rounds[key].push(await load(running[key], request, connections));
      }
      const results = Object.fromEntries(servers.map((key) => [key, summarize(rounds[key])]));
      const row = { figure, connections, results, ratios: {}, cpuRatios: {} };
      for (const key of servers.slice(1)) {
        row.ratios[key] = pairedRatio(results[key], results.off);
        row.cpuRatios[key] = pairedRatio(results[key], results.off, 'cpuUs');
      }
      rows.push(row);
      say(`${figure} at ${connections}: ${servers.map((key) => `${SERVERS[key].name} ${Math.round(results[key].rps)} req/s (${results[key].cpuUs.toFixed(0)} µs)${key === 'off' ? '' : ` ${row.ratios[key].toFixed(3)}×`}`).join(' | ')}`);
    }
  }
  const cell = (row, key) => {
    const result = row.results[key];
    if (!result) return ' | | ';
    return ` ${Math.round(result.rps).toLocaleString('en-US')} | ${result.cpuUs.toFixed(1)} µs | ${row.ratios[key].toFixed(2)}× (CPU ${row.cpuRatios[key].toFixed(2)}×)`;
  };
  const table = [
    '| Figure | Connections | --no-metrics req/s | CPU/req | metrics req/s | CPU/req | × --no-metrics | + info log req/s | CPU/req | × --no-metrics |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => {
      const off = row.results.off;
      return `| ${row.figure} | ${row.connections} | ${Math.round(off.rps).toLocaleString('en-US')} | ${off.cpuUs.toFixed(1)} µs |${cell(row, 'on')} |${cell(row, 'logged')} |`;
    }),
  ];
  await writeComparison(resultsFile, {
    title: 'What metrics and the transition log cost',
    dir: root,
    table,
    lines: [
      `\`node bench/metrics.mjs\` (loader ${config.loader}, ${config.rounds} rounds × ${config.seconds} s, the servers in turn; each ratio is the median of the rounds' ratios, req/s and CPU per request the median rounds).`,
      'chartd --no-metrics beside chartd with metrics (the default), both at --log-level warn; for PUTs that each make a transition,',
      'also chartd with metrics at --log-level info, which writes one log line per transition (to a pipe the benchmark drains).',
    ],
  });
} finally {
  for (const server of Object.values(running)) await server.stop();
  if (!config.keep) await rm(root, { recursive: true, force: true });
}
