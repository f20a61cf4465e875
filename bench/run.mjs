// `npm run bench`: chartd against a bare Koa baseline, each in its own process, loaded by autocannon (or wrk) in a third.
// Settings come from the environment (see bench/README.md); the table is printed and written to bench/results.md.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { probeFsync } from './lib/disk.mjs';
import { describeMachine } from './lib/machine.mjs';
import { runLoad, runSeed, startBaseline, startChartd } from './lib/processes.mjs';
import { renderReport } from './lib/report.mjs';
import { median } from './lib/stats.mjs';

const config = readConfig();
const chartFile = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const resultsFile = fileURLToPath(new URL(config.loader === 'wrk' ? 'results-wrk.md' : 'results.md', import.meta.url));
const GET = { method: 'GET', path: '/state?state=open' };
const PUT_GATE = { method: 'PUT', path: '/state?state=open' };
const PUT_SPREAD = { method: 'PUT', path: '/charts/bench-gate/instances/i-{i}/state?state=open' };

const say = (line) => process.stderr.write(`${line}\n`);

/** The median of each figure over rounds, with the spread of throughput so noise is visible; `rounds` keeps each round. */
function summarize(rounds) {
  const rps = rounds.map((round) => round.rps);
  return {
    rps: median(rps), minRps: Math.min(...rps), maxRps: Math.max(...rps),
    p50: median(rounds.map((round) => round.p50)), p99: median(rounds.map((round) => round.p99)),
    cpuUs: median(rounds.map((round) => round.cpuUs)),
    rounds,
  };
}

function load(server, request, connections, extra = {}) {
  return runLoad(config.loader, { url: server.url, pid: server.pid, ...request, connections, seconds: config.seconds, warmup: config.warmup, ...extra });
}

/** Rounds of several loads, taken in turn (A B A B …), so drift on a shared machine hits each alike. */
async function interleaved(label, loads) {
  const rounds = loads.map(() => []);
  for (let round = 0; round < config.rounds; round++) {
    for (const [index, run] of loads.entries()) rounds[index].push(await run());
  }
  const summaries = rounds.map(summarize);
  say(`  ${label}: ${summaries.map((s) => `${Math.round(s.rps)} req/s p50 ${s.p50.toFixed(2)} ms cpu ${s.cpuUs.toFixed(0)} µs/req`).join(' | ')}`);
  return summaries;
}

const root = await mkdtemp(join(config.dir, 'chartd-bench-'));
const started = performance.now();
const servers = [];
try {
  say(`chartd bench: ${config.rounds} round(s) × ${config.seconds} s (+${config.warmup} s warm-up) per figure; data in ${root}`);
  const fsync = await probeFsync(root);
  say(`fdatasync of a 700-byte append: p50 ${fsync.p50.toFixed(2)} ms, p90 ${fsync.p90.toFixed(2)} ms, mean ${fsync.mean.toFixed(2)} ms`);
  const seeded = {};
  for (const count of new Set([config.spread, ...config.scale])) {
    const dataDir = join(root, `instances-${count}`);
    seeded[count] = { dataDir, ...(await runSeed({ dataDir, chartFile, count })) };
    say(`seeded ${count} instances (${seeded[count].bytesPerInstance} bytes of JSON each) in ${seeded[count].ms} ms`);
  }

  const baseline = await startBaseline();
  servers.push(baseline);
  const baselineStart = { ms: baseline.startupMs, ...baseline.memory() };
  const chartd = await startChartd({ chartFile, dataDir: seeded[config.spread].dataDir });
  servers.push(chartd);

  // GET of both servers and chartd's two PUTs go round by round together: each ratio is taken within a round.
  const get = {};
  const baselineGet = {};
  const putGate = {};
  const putSpread = {};
  say(`GET /state?state=open, chartd | baseline | durable PUT, one gate | spread over ${config.spread} instances:`);
  for (const connections of config.connections) {
    [get[connections], baselineGet[connections], putGate[connections], putSpread[connections]] = await interleaved(`${connections} connections`, [
      () => load(chartd, GET, connections), () => load(baseline, GET, connections),
      () => load(chartd, PUT_GATE, connections), () => load(chartd, PUT_SPREAD, connections, { instances: config.spread }),
    ]);
  }
  if (!baselineGet[config.scaleConnections]) {
    [baselineGet[config.scaleConnections]] = await interleaved(`baseline, ${config.scaleConnections} connections`, [
      () => load(baseline, GET, config.scaleConnections),
    ]);
  }
  await chartd.stop();
  servers.splice(servers.indexOf(chartd), 1);

  // Start-up first, on the largest directory: each start but the last is stopped again.
  const largest = config.scale.at(-1);
  const starts = [];
  let largeServer;
  for (let attempt = 0; attempt < Math.max(1, config.startups); attempt++) {
    if (largeServer) await largeServer.stop();
    largeServer = await startChartd({ chartFile, dataDir: seeded[largest].dataDir });
    starts.push({ ms: largeServer.startupMs, ...largeServer.memory() });
  }
  servers.push(largeServer);
  const startup = {
    count: largest, starts,
    ms: median(starts.map((start) => start.ms)),
    rssMB: median(starts.map((start) => start.rssMB)),
    hwmMB: median(starts.map((start) => start.hwmMB)),
  };
  say(`start-up with ${largest} stored: ${startup.ms.toFixed(0)} ms, VmRSS ${startup.rssMB.toFixed(0)} MB, VmHWM ${startup.hwmMB.toFixed(0)} MB`);

  // One server per instance count, all up at once and loaded in turn, so a slow spell cannot pass for scaling.
  const scaleServers = new Map([[largest, largeServer]]);
  for (const count of config.scale) {
    if (scaleServers.has(count)) continue;
    const server = await startChartd({ chartFile, dataDir: seeded[count].dataDir });
    servers.push(server);
    scaleServers.set(count, server);
  }
  const scale = {};
  const scaleFigures = await interleaved(`PUT with ${config.scale.join(' | ')} stored (${config.scaleConnections} connections)`, config.scale.map(
    (count) => () => load(scaleServers.get(count), PUT_SPREAD, config.scaleConnections, { instances: count }),
  ));
  config.scale.forEach((count, index) => (scale[count] = scaleFigures[index]));
  startup.hwmAfterLoadMB = largeServer.memory().hwmMB;
  for (const server of scaleServers.values()) {
    await server.stop();
    servers.splice(servers.indexOf(server), 1);
  }

  // Again at the end: a disk that slowed down during the run shows here, next to the PUT figures.
  const fsyncAfter = await probeFsync(root);
  say(`fdatasync at the end: p50 ${fsyncAfter.p50.toFixed(2)} ms, p90 ${fsyncAfter.p90.toFixed(2)} ms, mean ${fsyncAfter.mean.toFixed(2)} ms`);

  const report = renderReport({
    config, machine: describeMachine(config.dir), seconds: (performance.now() - started) / 1000,
    bytesPerInstance: seeded[config.scale.at(-1)].bytesPerInstance,
    get, baselineGet, putGate, putSpread, scale, startup, baselineStart, fsync: [fsync, fsyncAfter],
  });
  await writeFile(resultsFile, report.markdown);
  process.stdout.write(report.markdown);
  say(`written to ${resultsFile}`);
  // A missed target is a finding, not a broken run; BENCH_STRICT=1 makes it fail the command (for CI).
  if (report.failed && config.strict) process.exitCode = 1;
} finally {
  for (const server of servers) await server.stop().catch((error) => say(String(error)));
  if (config.keep) say(`kept ${root}`);
  else await rm(root, { recursive: true, force: true });
}
