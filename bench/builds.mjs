// Two builds of chartd side by side: this checkout's and another's (`node bench/builds.mjs OTHER_CHECKOUT`), GET and
// durable PUT (one gate, and spread over instances) at each connection count, fresh servers every round, loaded in
// turn and every other round in reverse, with a second server of this build as a control that shows the noise.
// It answers "did this change make chartd slower?"; run `npm run build` in both checkouts first. Prints its table.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { summarize } from './lib/comparison.mjs';
import { runLoad, runSeed, startChartd } from './lib/processes.mjs';
import { pairedRatio, percentile } from './lib/stats.mjs';

const config = readConfig();
const other = process.argv[2];
if (!other) {
  process.stderr.write('usage: node bench/builds.mjs OTHER_CHECKOUT   (both built with npm run build)\n');
  process.exit(2);
}
const otherCli = join(resolve(other), 'dist', 'cli', 'main.js');
/** Each build's data directories are seeded by its own checkout, in the format that build reads. */
const otherSeed = join(resolve(other), 'bench', 'seed.mjs');
if (!existsSync(otherCli)) {
  process.stderr.write(`bench/builds.mjs: ${otherCli} does not exist; run npm run build in ${other} first\n`);
  process.exit(2);
}
const gate = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const say = (line) => process.stderr.write(`${line}\n`);

const SERVERS = {
  other: { name: `build in ${other}`, cli: otherCli, seed: otherSeed },
  here: { name: 'this build' },
  control: { name: `build in ${other} again (control)`, cli: otherCli, seed: otherSeed },
};
const FIGURES = [
  { figure: 'GET /state?state=open', request: { method: 'GET', path: '/state?state=open' } },
  { figure: 'durable PUT, one gate', request: { method: 'PUT', path: '/state?state=open' } },
  { figure: `durable PUT, spread over ${config.spread} instances`, request: { method: 'PUT', path: '/charts/bench-gate/instances/i-{i}/state?state=open', instances: config.spread } },
];
const KEYS = Object.keys(SERVERS);

function ratioOf(result, base, field) {
  const ratios = result.rounds.map((round, index) => round[field] / base.rounds[index][field]).sort((a, b) => a - b);
  return { median: pairedRatio(result, base, field), low: percentile(ratios, 0.25), high: percentile(ratios, 0.75) };
}
const times = ({ median, low, high }) => `${median.toFixed(3)}× (${low.toFixed(2)}–${high.toFixed(2)})`;

const root = await mkdtemp(join(config.dir, 'chartd-bench-builds-'));
let running = [];
try {
  const rows = [];
  for (const connections of config.connections) {
    for (const { figure, request } of FIGURES) {
      const rounds = Object.fromEntries(KEYS.map((key) => [key, []]));
      for (let round = 0; round < config.rounds; round++) {
        const dir = join(root, `round-${round}`);
        if (request.instances) {
          // The instances already exist, as in the main run: a spread PUT counts a check-in, it does not create.
          for (const key of KEYS) await runSeed({ dataDir: join(dir, key), chartFile: gate, count: request.instances, ...(SERVERS[key].seed ? { seed: SERVERS[key].seed } : {}) });
        }
        running = await Promise.all(KEYS.map((key) => startChartd({ chartFile: gate, dataDir: join(dir, key), name: SERVERS[key].name, cli: SERVERS[key].cli })));
        const serverOf = Object.fromEntries(KEYS.map((key, index) => [key, running[index]]));
        for (const key of round % 2 ? [...KEYS].reverse() : KEYS) {
          rounds[key].push(await runLoad(config.loader, { url: serverOf[key].url, pid: serverOf[key].pid, ...request, connections, seconds: config.seconds, warmup: config.warmup }));
        }
        await Promise.all(running.map((server) => server.stop()));
        running = [];
        await rm(dir, { recursive: true, force: true });
      }
      const results = Object.fromEntries(KEYS.map((key) => [key, summarize(rounds[key])]));
      for (const key of KEYS) {
        const row = { figure, connections, key, result: results[key] };
        if (key !== 'other') Object.assign(row, { rps: ratioOf(results[key], results.other, 'rps'), cpu: ratioOf(results[key], results.other, 'cpuUs') });
        rows.push(row);
        say(`${figure} at ${connections}, ${SERVERS[key].name}: ${Math.round(row.result.rps)} req/s, ${row.result.cpuUs.toFixed(1)} µs${row.rps ? `; ${times(row.rps)}, CPU ${times(row.cpu)}` : ''}`);
      }
    }
  }
  process.stdout.write([
    `node bench/builds.mjs ${other} (loader ${config.loader}, ${config.rounds} rounds × ${config.seconds} s after ${config.warmup} s of warm-up; fresh servers every round)`,
    '',
    '| Figure | Connections | Server | req/s | server CPU per request | req/s × other | CPU per request × other |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.figure} | ${row.connections} | ${SERVERS[row.key].name} | ${Math.round(row.result.rps).toLocaleString('en-US')} | ${row.result.cpuUs.toFixed(1)} µs | ${row.rps ? times(row.rps) : ''} | ${row.cpu ? times(row.cpu) : ''} |`),
    '',
  ].join('\n'));
} finally {
  await Promise.all(running.map((server) => server.stop()));
  if (!config.keep) await rm(root, { recursive: true, force: true });
}
