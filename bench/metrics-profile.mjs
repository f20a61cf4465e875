// What share of chartd's CPU its metrics take, counted from a CPU profile rather than timed against a second server:
// the side-by-side run (metrics.mjs) cannot see a cost of 1–2% on a machine whose control strays by 10%. chartd runs
// under --cpu-prof, each figure loads it, and the profile's samples are summed by where they were taken: chartd's
// metrics code (src/metrics, the middleware that counts requests, the route template, the transitions counted), and
// prom-client. Run after `npm run build`; prints the table.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.mjs';
import { runLoad, startServer } from './lib/processes.mjs';

const config = readConfig();
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const gate = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const loop = fileURLToPath(new URL('charts/loop.yaml', import.meta.url));
const SECONDS = Math.max(config.seconds, 8);
const FIGURES = [
  { figure: 'GET /state?state=open', method: 'GET', path: '/state?state=open' },
  { figure: 'durable PUT, one gate', method: 'PUT', path: '/state?state=open' },
  { figure: 'durable PUT, a transition each', method: 'PUT', path: '/charts/bench-loop/state?state=loop&event=tick' },
];

/** Where a sample's function lives, if it is metrics work. */
function metricsPart(url) {
  if (url.includes('/node_modules/prom-client/')) return 'prom-client';
  if (url.includes('/dist/metrics/') || url.endsWith('/dist/http/routes/metrics.js') || url.endsWith('/dist/http/routeTemplate.js')) return 'chartd';
  if (url.endsWith('/dist/runtime/transitionLog.js')) return 'chartd';
  return undefined;
}

/** Busy samples (all but idle) and those taken in metrics code, from one .cpuprofile. */
function attribute(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  let busy = 0;
  const parts = { chartd: 0, 'prom-client': 0, gc: 0 };
  for (const id of profile.samples) {
    const frame = nodes.get(id);
    if (frame.functionName === '(idle)') continue;
    busy += 1;
    if (frame.functionName === '(garbage collector)') parts.gc += 1;
    const part = metricsPart(frame.url);
    if (part) parts[part] += 1;
  }
  return { busy, parts };
}

const root = await mkdtemp(join(config.dir, 'chartd-bench-metrics-profile-'));
const rows = [];
try {
  for (const connections of config.connections) {
    for (const { figure, method, path } of FIGURES) {
      const dir = join(root, `${connections}-${rows.length}`);
      const server = await startServer('chartd --cpu-prof', ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profile')}`, CLI, 'serve',
        '--chart', gate, '--chart', loop, '--default-chart', 'bench-gate', '--data', join(dir, 'data'), '--port', '0', '--log-level', 'warn']);
      const load = await runLoad(config.loader, { url: server.url, pid: server.pid, method, path, connections, seconds: SECONDS, warmup: config.warmup });
      await server.stop();
      const [file] = await readdir(join(dir, 'profile'));
      const { busy, parts } = attribute(JSON.parse(await readFile(join(dir, 'profile', file), 'utf8')));
      const share = (count) => `${((100 * count) / busy).toFixed(2)}%`;
      rows.push(`| ${figure} | ${connections} | ${Math.round(load.rps).toLocaleString('en-US')} | ${busy.toLocaleString('en-US')} | ${share(parts.chartd)} | ${share(parts['prom-client'])} | **${share(parts.chartd + parts['prom-client'])}** | ${share(parts.gc)} |`);
      process.stderr.write(`${rows.at(-1)}\n`);
    }
  }
  process.stdout.write([
    `node bench/metrics-profile.mjs (loader ${config.loader}, ${SECONDS} s of load after ${config.warmup} s of warm-up, the whole run profiled)`,
    '',
    '| Figure | Connections | req/s (profiled) | busy samples | chartd\'s metrics code | prom-client | metrics in all | garbage collector (all of chartd) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n'));
} finally {
  if (!config.keep) await rm(root, { recursive: true, force: true });
}
