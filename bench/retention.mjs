// What --retain-finished costs a PUT: durable PUTs while the sweep removes a backlog of finished instances (at the
// default rate, and unpaced), beside the same build without it, and with it but nothing due; and the server CPU one
// removal takes with no load. Writes bench/retention-results.md. Run after `npm run build`; BENCH_ROUNDS,
// BENCH_SECONDS and BENCH_FINISHED set its size.
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { serverCpuSeconds } from './lib/loadSpec.mjs';
import { describeMachine } from './lib/machine.mjs';
import { runLoad, runSeed, startChartd } from './lib/processes.mjs';
import { median, pairedRatio } from './lib/stats.mjs';

const config = readConfig();
const gateFile = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const doneFile = fileURLToPath(new URL('charts/done.yaml', import.meta.url));
const resultsFile = fileURLToPath(new URL('retention-results.md', import.meta.url));
const say = (line) => process.stderr.write(`${line}\n`);
const FINISHED = Number(process.env.BENCH_FINISHED ?? 100_000);
const PUT_SPREAD = { method: 'PUT', path: '/charts/bench-gate/instances/i-{i}/state?state=open' };
const CONNECTIONS = 16;
/** Seconds each server runs without load before it is loaded: the sweep's own CPU is measured then. */
const QUIET_SECONDS = 2;

/** Servers of one round, each on its own copy of the seeded directory, started one at a time. */
const KINDS = {
  without: [],
  // Every seeded instance finished long before: the sweep starts with the server and runs through the load.
  sweeping: ['--retain-finished', '1ms'],
  // The same with no rate to speak of: removals back to back, as fast as the store takes them.
  unpaced: ['--retain-finished', '1ms', '--retain-finished-rate', '1000000'],
  // The option with nothing due: what following every commit costs.
  idle: ['--retain-finished', '30d'],
};
const KIND_NAMES = Object.keys(KINDS);

async function finishedLeft(server) {
  const answer = await fetch(`${server.url}/charts/bench-done`);
  return (await answer.json()).instances;
}

/** One server of a round: a quiet spell (removals and CPU counted), then the PUT load (removals counted). */
async function measure(kind, dataDir) {
  const server = await startChartd({ chartFile: gateFile, dataDir, name: `chartd ${kind}`, extraArgs: ['--chart', doneFile, ...KINDS[kind]] });
  try {
    const atStart = await finishedLeft(server);
    const cpuAtStart = serverCpuSeconds(server.pid);
    await sleep(QUIET_SECONDS * 1000);
    const quiet = { removed: atStart - (await finishedLeft(server)), cpuSeconds: serverCpuSeconds(server.pid) - cpuAtStart };
    const beforeLoad = await finishedLeft(server);
    const load = await runLoad(config.loader, { url: server.url, pid: server.pid, ...PUT_SPREAD, connections: CONNECTIONS, seconds: config.seconds, warmup: 0, instances: config.spread });
    return { ...load, quiet, removedPerSecond: (beforeLoad - (await finishedLeft(server))) / config.seconds };
  } finally {
    await server.stop();
  }
}

const root = await mkdtemp(join(config.dir, 'chartd-bench-retention-'));
try {
  const seeded = join(root, 'seeded');
  const gate = await runSeed({ dataDir: seeded, chartFile: gateFile, count: config.spread });
  const done = await runSeed({ dataDir: seeded, chartFile: doneFile, count: FINISHED });
  say(`seeded ${gate.count} instances of bench-gate and ${done.count} finished ones of bench-done`);
  const rounds = Object.fromEntries(KIND_NAMES.map((kind) => [kind, []]));
  for (let round = 0; round < config.rounds; round++) {
    // Each round starts with the next kind, so none is always first after the seeding or last before a busy spell.
    for (const kind of KIND_NAMES.map((_, at) => KIND_NAMES[(at + round) % KIND_NAMES.length])) {
      const dataDir = join(root, `${kind}-${round}`);
      await cp(seeded, dataDir, { recursive: true });
      // The copy's pages reach the disk now, not during the load's fsyncs.
      execFileSync('sync');
      rounds[kind].push(await measure(kind, dataDir));
      await rm(dataDir, { recursive: true, force: true });
    }
    say(`round ${round + 1}: ${KIND_NAMES.map((kind) => `${kind} ${Math.round(rounds[kind].at(-1).rps)} req/s, ${Math.round(rounds[kind].at(-1).removedPerSecond)} removed/s`).join(' | ')}`);
  }
  const summary = (list) => ({
    rps: median(list.map((r) => r.rps)), cpuUs: median(list.map((r) => r.cpuUs)), p50: median(list.map((r) => r.p50)), p99: median(list.map((r) => r.p99)),
    removedPerSecond: median(list.map((r) => r.removedPerSecond)), rounds: list,
  });
  const [without, sweeping, unpaced, idle] = KIND_NAMES.map((kind) => summary(rounds[kind]));
  const ratio = (figures) => `${pairedRatio(figures, without).toFixed(2)}× (${figures.rounds.map((round, at) => (round.rps / without.rounds[at].rps).toFixed(2)).join(', ')})`;
  const count = (value) => Math.round(value).toLocaleString('en-US');
  const row = (name, figures, times) => `| ${name} | ${count(figures.rps)} | ${times} | ${figures.cpuUs.toFixed(0)} µs | ${figures.p50.toFixed(2)} / ${figures.p99.toFixed(2)} | ${figures === without || figures === idle ? '' : count(figures.removedPerSecond)} |`;
  // The unpaced sweep removes thousands in the quiet spell: enough CPU ticks (10 ms each) to divide by.
  const quiet = unpaced.rounds.reduce((sum, round) => ({ removed: sum.removed + round.quiet.removed, cpuSeconds: sum.cpuSeconds + round.quiet.cpuSeconds }), { removed: 0, cpuSeconds: 0 });
  const cpuPerRemovalUs = (quiet.cpuSeconds * 1e6) / quiet.removed;
  const defaultRate = median(sweeping.rounds.map((round) => round.quiet.removed / QUIET_SECONDS));
  const share = (defaultRate * cpuPerRemovalUs) / (without.rps * without.cpuUs);
  const report = [
    '# What --retain-finished costs a PUT',
    '',
    `\`node bench/retention.mjs\` (loader ${config.loader}, ${config.rounds} rounds × ${config.seconds} s, ${CONNECTIONS} connections, the four servers in turn, each round beginning with the next, each on a fresh copy of the data and loaded after ${QUIET_SECONDS} s without load; each ratio is the median of the rounds' ratios, which follow it).`,
    `The data: ${config.spread} instances of bench-gate taking the durable PUTs, spread over them, and ${FINISHED.toLocaleString('en-US')} finished instances of bench-done.`,
    `Machine: ${Object.entries(describeMachine(root)).map(([key, value]) => `${key} ${value}`).join('; ')}.`,
    '',
    '| chartd serve | durable PUT req/s | × without | server CPU per request | p50 / p99 ms | removed a second during the load |',
    '| --- | --- | --- | --- | --- | --- |',
    row('without --retain-finished', without, '1.00×'),
    row('--retain-finished 1ms: removing finished instances during the load, at the default rate', sweeping, ratio(sweeping)),
    row('--retain-finished 1ms --retain-finished-rate 1000000: removing them back to back', unpaced, ratio(unpaced)),
    row('--retain-finished 30d: nothing due', idle, ratio(idle)),
    '',
    `Without load, the unpaced sweep removed ${count(median(unpaced.rounds.map((round) => round.quiet.removed / QUIET_SECONDS)))} a second, at ${cpuPerRemovalUs.toFixed(0)} µs of server CPU each (${quiet.removed.toLocaleString('en-US')} removals over all rounds' quiet spells), and the default rate ${count(defaultRate)} a second: ${((defaultRate * cpuPerRemovalUs) / 1000).toFixed(1)} ms of CPU a second, ${(share * 100).toFixed(1)} % of what the PUT load above takes of the server without it (req/s × CPU per request).`,
    `At the default rate a backlog of 100,000 finished instances is gone in ${count(100_000 / defaultRate / 60)} minutes.`,
    '',
  ].join('\n');
  await writeFile(resultsFile, report);
  process.stdout.write(`${report}\nwritten to ${resultsFile}\n`);
} finally {
  if (!config.keep) await rm(root, { recursive: true, force: true });
}
