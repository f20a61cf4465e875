// What --retain-finished costs a PUT: durable PUTs while the sweep removes a backlog of finished instances (at the
// default rate, and unpaced), and with the option but nothing due, each beside a server without it, the two loaded at
// once; and the server CPU one removal takes with no load. Writes bench/retention-results.md. Run after `npm run
// build`; BENCH_ROUNDS, BENCH_SECONDS, BENCH_FINISHED and BENCH_LOADER set its size and loader.
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { serverCpuSeconds } from './lib/loadSpec.mjs';
import { describeMachine } from './lib/machine.mjs';
import { runLoad, runSeed, startChartd } from './lib/processes.mjs';
import { median } from './lib/stats.mjs';

const config = readConfig();
const gateFile = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const doneFile = fileURLToPath(new URL('charts/done.yaml', import.meta.url));
const resultsFile = fileURLToPath(new URL('retention-results.md', import.meta.url));
const say = (line) => process.stderr.write(`${line}\n`);
const FINISHED = Number(process.env.BENCH_FINISHED ?? 100_000);
const PUT_SPREAD = { method: 'PUT', path: '/charts/bench-gate/instances/i-{i}/state?state=open' };
const CONNECTIONS = 16;
/** Seconds both servers of a pair run without load before they are loaded: the sweep's own CPU is measured then. */
const QUIET_SECONDS = 2;

/** What each server is started with; every one but `without` is measured beside a server without the option. */
const KINDS = {
  without: [],
  // Every seeded instance finished long before: the sweep starts with the server and runs through the load, at the default rate.
  sweeping: ['--retain-finished', '1ms'],
  // The same with no rate to speak of: removals back to back, as fast as the store takes them.
  unpaced: ['--retain-finished', '1ms', '--retain-finished-rate', '1000000'],
  // The option with nothing due: what following every commit costs.
  idle: ['--retain-finished', '30d'],
};
const MEASURED = ['sweeping', 'unpaced', 'idle'];

const root = await mkdtemp(join(config.dir, 'chartd-bench-retention-'));

async function finishedLeft(server) {
  const answer = await fetch(`${server.url}/charts/bench-done`);
  return (await answer.json()).instances;
}

/**
 * `kind` beside a server without the option, each on its own copy of the seeded data: a quiet spell (removals and CPU
 * counted), then both loaded at once by their own loaders, so a busy spell of a shared machine falls on both alike.
 */
async function measurePair(seeded, kind, round) {
  const pair = ['without', kind];
  const dirs = pair.map((each) => join(root, `${each}-${kind}-${round}`));
  const servers = [];
  try {
    for (const dir of dirs) await cp(seeded, dir, { recursive: true });
    // The copies' pages reach the disk now, not during the load's fsyncs.
    execFileSync('sync');
    for (const [at, each] of pair.entries()) {
      servers.push(await startChartd({ chartFile: gateFile, dataDir: dirs[at], name: `chartd ${each}`, extraArgs: ['--chart', doneFile, ...KINDS[each]] }));
    }
    const counts = () => Promise.all(servers.map(finishedLeft));
    const cpu = () => servers.map((server) => serverCpuSeconds(server.pid));
    const [atStart, cpuAtStart] = [await counts(), cpu()];
    await sleep(QUIET_SECONDS * 1000);
    const [beforeLoad, cpuBeforeLoad] = [await counts(), cpu()];
    const loads = await Promise.all(servers.map((server) => runLoad(config.loader, {
      url: server.url, pid: server.pid, ...PUT_SPREAD, connections: CONNECTIONS, seconds: config.seconds, warmup: 0, instances: config.spread,
    })));
    const afterLoad = await counts();
    return pair.map((_, at) => ({
      ...loads[at],
      quiet: { removed: atStart[at] - beforeLoad[at], cpuSeconds: cpuBeforeLoad[at] - cpuAtStart[at] },
      removedPerSecond: (beforeLoad[at] - afterLoad[at]) / config.seconds,
    }));
  } finally {
    for (const server of servers) await server.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

try {
  const seeded = join(root, 'seeded');
  const gate = await runSeed({ dataDir: seeded, chartFile: gateFile, count: config.spread });
  const done = await runSeed({ dataDir: seeded, chartFile: doneFile, count: FINISHED });
  say(`seeded ${gate.count} instances of bench-gate and ${done.count} finished ones of bench-done`);
  /** Per kind, each round's pair: the server with the option and the one without it beside it. */
  const pairs = Object.fromEntries(MEASURED.map((kind) => [kind, []]));
  for (let round = 0; round < config.rounds; round++) {
    // Each round starts with the next kind, so none is always first after the seeding or last before a busy spell.
    for (const kind of MEASURED.map((_, at) => MEASURED[(at + round) % MEASURED.length])) {
      const [without, measured] = await measurePair(seeded, kind, round);
      pairs[kind].push({ without, measured });
    }
    say(`round ${round + 1}: ${MEASURED.map((kind) => {
      const { without, measured } = pairs[kind].at(-1);
      return `${kind} ${Math.round(measured.rps)} req/s beside ${Math.round(without.rps)}, ${Math.round(measured.removedPerSecond)} removed/s`;
    }).join(' | ')}`);
  }
  const count = (value) => Math.round(value).toLocaleString('en-US');
  const ratios = (list, field) => list.map(({ without, measured }) => measured[field] / without[field]);
  const times = (values) => `${median(values).toFixed(2)}× (${values.map((value) => value.toFixed(2)).join(', ')})`;
  const row = (name, runs, list) => {
    const figures = (field) => median(runs.map((run) => run[field]));
    const compared = list ? [times(ratios(list, 'rps')), times(ratios(list, 'cpuUs'))] : ['1.00×', '1.00×'];
    const removed = list && runs[0].removedPerSecond !== 0 ? count(figures('removedPerSecond')) : '';
    return `| ${name} | ${count(figures('rps'))} | ${compared[0]} | ${figures('cpuUs').toFixed(0)} µs | ${compared[1]} | ${figures('p50').toFixed(2)} / ${figures('p99').toFixed(2)} | ${removed} |`;
  };
  const measuredRow = (name, kind) => row(name, pairs[kind].map(({ measured }) => measured), pairs[kind]);
  // The unpaced sweep removes thousands in the quiet spell: enough CPU ticks (10 ms each) to divide by.
  const quiet = pairs.unpaced.reduce((sum, { measured }) => ({ removed: sum.removed + measured.quiet.removed, cpuSeconds: sum.cpuSeconds + measured.quiet.cpuSeconds }), { removed: 0, cpuSeconds: 0 });
  const cpuPerRemovalUs = (quiet.cpuSeconds * 1e6) / quiet.removed;
  const defaultRate = median(pairs.sweeping.map(({ measured }) => measured.quiet.removed / QUIET_SECONDS));
  const report = [
    '# What --retain-finished costs a PUT',
    '',
    `\`node bench/retention.mjs\` (loader ${config.loader}, ${config.rounds} rounds × ${config.seconds} s, ${CONNECTIONS} connections to each server). Each server with the option runs beside one without it, each on a fresh copy of the data, ${QUIET_SECONDS} s without load and then both loaded at once, each by its own loader: the two share the machine, so their figures are about half of one server's alone, and a busy spell of the machine falls on both alike. Each ratio is the median of the rounds' ratios to the server beside it, which follow it.`,
    `The data: ${config.spread} instances of bench-gate taking the durable PUTs, spread over them, and ${FINISHED.toLocaleString('en-US')} finished instances of bench-done.`,
    `Machine: ${Object.entries(describeMachine(root)).map(([key, value]) => `${key} ${value}`).join('; ')}.`,
    '',
    '| chartd serve | durable PUT req/s | × the server beside it | server CPU per request | × the server beside it | p50 / p99 ms | removed a second during the load |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('without --retain-finished (every pair)', MEASURED.flatMap((kind) => pairs[kind].map(({ without }) => without))),
    measuredRow('--retain-finished 1ms: removing finished instances during the load, at the default rate', 'sweeping'),
    measuredRow('--retain-finished 1ms --retain-finished-rate 1000000: removing them back to back', 'unpaced'),
    measuredRow('--retain-finished 30d: nothing due', 'idle'),
    '',
    `Without load, the unpaced sweep removed ${count(median(pairs.unpaced.map(({ measured }) => measured.quiet.removed / QUIET_SECONDS)))} a second, at ${cpuPerRemovalUs.toFixed(0)} µs of server CPU each (${quiet.removed.toLocaleString('en-US')} removals over all rounds' quiet spells), and the default rate ${count(defaultRate)} a second: ${((defaultRate * cpuPerRemovalUs) / 1000).toFixed(1)} ms of CPU a second, ${((defaultRate * cpuPerRemovalUs) / 1e4).toFixed(1)} % of one core.`,
    `At the default rate a backlog of 100,000 finished instances is gone in ${count(100_000 / defaultRate / 60)} minutes.`,
    '',
  ].join('\n');
  await writeFile(resultsFile, report);
  process.stdout.write(`${report}\nwritten to ${resultsFile}\n`);
} finally {
  if (!config.keep) await rm(root, { recursive: true, force: true });
}
