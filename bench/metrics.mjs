// What metrics and the transition log cost: chartd --no-metrics beside chartd with metrics (and, for PUTs that each
// make a transition, beside one logging at info), GET and durable PUT at each connection count, rounds in turn, with a
// second --no-metrics server as a control that shows the noise; fresh servers every round; writes bench/metrics-results.md.
// Run after `npm run build`.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { summarize, writeComparison } from './lib/comparison.mjs';
import { runLoad, startChartd } from './lib/processes.mjs';
import { pairedRatio, percentile } from './lib/stats.mjs';

const config = readConfig();
const gate = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const loop = fileURLToPath(new URL('charts/loop.yaml', import.meta.url));
const resultsFile = fileURLToPath(new URL('metrics-results.md', import.meta.url));
const say = (line) => process.stderr.write(`${line}\n`);

// The servers, each with both charts; the first is the one the others are set against. A figure loads its servers in
// the order given (and back): --no-metrics and metrics next to each other, as this VM has fast and slow spells of seconds.
const SERVERS = {
  off: { name: '--no-metrics', args: ['--no-metrics'] },
  control: { name: '--no-metrics again (control)', args: ['--no-metrics'] },
  on: { name: 'metrics (the default)', args: [] },
  logged: { name: 'metrics, --log-level info', args: ['--log-level', 'info'] },
};
const FIGURES = [
  { figure: 'GET /state?state=open', request: { method: 'GET', path: '/state?state=open' }, servers: ['off', 'on', 'control'] },
  { figure: 'durable PUT, one gate', request: { method: 'PUT', path: '/state?state=open' }, servers: ['off', 'on', 'control'] },
  { figure: 'durable PUT, a transition each', request: { method: 'PUT', path: '/charts/bench-loop/state?state=loop&event=tick' }, servers: ['off', 'on', 'logged', 'control'] },
];

/** The median of the rounds' ratios of `field`, and the middle half of them (the 25th to the 75th percentile). */
function ratioOf(result, base, field) {
  const ratios = result.rounds.map((round, index) => round[field] / base.rounds[index][field]).sort((a, b) => a - b);
  return { median: pairedRatio(result, base, field), low: percentile(ratios, 0.25), high: percentile(ratios, 0.75) };
}
const times = ({ median, low, high }) => `${median.toFixed(3)}× (${low.toFixed(2)}–${high.toFixed(2)})`;

const root = await mkdtemp(join(config.dir, 'chartd-bench-metrics-'));
let running = [];
try {
  // Fresh servers for every round: no server carries its own luck (memory layout, when a checkpoint falls) through every round.
  const start = (key, dataDir) => startChartd({
    chartFile: gate, dataDir, name: `chartd ${SERVERS[key].name}`, extraArgs: ['--chart', loop, '--default-chart', 'bench-gate', ...SERVERS[key].args],
  });
  const load = (server, request, connections) =>
    runLoad(config.loader, { url: server.url, pid: server.pid, ...request, connections, seconds: config.seconds, warmup: config.warmup });

  const rows = [];
  for (const connections of config.connections) {
    for (const { figure, request, servers } of FIGURES) {
      const rounds = Object.fromEntries(servers.map((key) => [key, []]));
      // Every other round the other way round, so a machine growing busier or quieter within a round favours no server.
      for (let round = 0; round < config.rounds; round++) {
        const dir = join(root, `round-${round}`);
        const started = await Promise.allSettled(servers.map((key) => start(key, join(dir, key))));
        running = started.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
        const failed = started.find((outcome) => outcome.status === 'rejected');
        if (failed) throw failed.reason;
        const serverOf = Object.fromEntries(servers.map((key, index) => [key, running[index]]));
        for (const key of round % 2 ? [...servers].reverse() : servers) rounds[key].push(await load(serverOf[key], request, connections));
        await Promise.all(running.map((server) => server.stop()));
        running = [];
        await rm(dir, { recursive: true, force: true });
      }
      const results = Object.fromEntries(servers.map((key) => [key, summarize(rounds[key])]));
      for (const key of servers) {
        const row = { figure, connections, key, result: results[key] };
        if (key !== 'off') Object.assign(row, { rps: ratioOf(results[key], results.off, 'rps'), cpu: ratioOf(results[key], results.off, 'cpuUs') });
        rows.push(row);
        say(`${figure} at ${connections}, ${SERVERS[key].name}: ${Math.round(row.result.rps)} req/s, ${row.result.cpuUs.toFixed(1)} µs${row.rps ? `; ${times(row.rps)}, CPU ${times(row.cpu)}` : ''}`);
      }
    }
  }
  const table = [
    '| Figure | Connections | Server | req/s | server CPU per request | req/s × --no-metrics | CPU per request × --no-metrics |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.figure} | ${row.connections} | ${SERVERS[row.key].name} | ${Math.round(row.result.rps).toLocaleString('en-US')} | ${row.result.cpuUs.toFixed(1)} µs | ${row.rps ? times(row.rps) : ''} | ${row.cpu ? times(row.cpu) : ''} |`),
  ];
  await writeComparison(resultsFile, {
    title: 'What metrics and the transition log cost',
    dir: root,
    table,
    lines: [
      `\`node bench/metrics.mjs\` (loader ${config.loader}, ${config.rounds} rounds × ${config.seconds} s after ${config.warmup} s of warm-up; fresh servers every round, loaded in turn, every other round in reverse order).`,
      'Each server serves both benchmark charts; all but the last log at --log-level warn. The last, for PUTs that each make a transition,',
      'logs at --log-level info: one line per transition, to a pipe the benchmark drains. req/s and CPU per request are the median rounds;',
      "each ratio is the median of the rounds' ratios, and in brackets the middle half of them. The control is a second --no-metrics",
      'server: how far its ratios stray from 1 is what this machine\'s noise alone does.',
    ],
  });
} finally {
  await Promise.all(running.map((server) => server.stop()));
  if (!config.keep) await rm(root, { recursive: true, force: true });
}
