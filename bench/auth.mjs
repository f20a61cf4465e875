// What tokens cost: chartd served without --auth beside chartd with --auth (20 tokens in the file), GET and durable
// PUT at each connection count, rounds in turn; writes bench/auth-results.md. Run after `npm run build`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashOf, newToken } from '../dist/access/tokens.js';
import { readConfig } from './lib/config.mjs';
import { summarize, writeComparison } from './lib/comparison.mjs';
import { runLoad, startChartd } from './lib/processes.mjs';
import { pairedRatio } from './lib/stats.mjs';

const config = readConfig();
const chartFile = fileURLToPath(new URL('charts/gate.yaml', import.meta.url));
const resultsFile = fileURLToPath(new URL('auth-results.md', import.meta.url));
const say = (line) => process.stderr.write(`${line}\n`);
const REQUESTS = { 'GET /state?state=open': { method: 'GET', path: '/state?state=open' }, 'durable PUT, one gate': { method: 'PUT', path: '/state?state=open' } };
const TOKENS = 20;

const root = await mkdtemp(join(config.dir, 'chartd-bench-auth-'));
const servers = [];
try {
  // The token used is the file's last: every request is compared with all of them (in constant time) either way.
  const tokens = Array.from({ length: TOKENS }, newToken);
  const lines = tokens.map((token, index) => `  client-${index}: { hash: '${hashOf(token)}', scopes: [admin] }`);
  await writeFile(join(root, 'auth.yaml'), `reads: token\ntokens:\n${lines.join('\n')}\n`);
  const open = await startChartd({ chartFile, dataDir: join(root, 'open'), name: 'chartd' });
  servers.push(open);
  const guarded = await startChartd({ chartFile, dataDir: join(root, 'auth'), name: 'chartd --auth', extraArgs: ['--auth', join(root, 'auth.yaml')] });
  servers.push(guarded);
  const headers = { Authorization: `Bearer ${tokens.at(-1)}` };
  const load = (server, request, connections, extra = {}) =>
    runLoad(config.loader, { url: server.url, pid: server.pid, ...request, connections, seconds: config.seconds, warmup: config.warmup, ...extra });

  const rows = [];
  for (const connections of config.connections) {
    for (const [figure, request] of Object.entries(REQUESTS)) {
      const rounds = { open: [], auth: [] };
      for (let round = 0; round < config.rounds; round++) {
        rounds.open.push(await load(open, request, connections));
        rounds.auth.push(await load(guarded, request, connections, { headers }));
      }
      const [a, b] = [summarize(rounds.open), summarize(rounds.auth)];
      const row = { figure, connections, open: a, auth: b, ratio: pairedRatio(b, a), cpuRatio: pairedRatio(b, a, 'cpuUs') };
      rows.push(row);
      say(`${figure} at ${connections}: ${Math.round(a.rps)} req/s (${a.cpuUs.toFixed(0)} µs) without --auth | ${Math.round(b.rps)} req/s (${b.cpuUs.toFixed(0)} µs) with a token: ${row.ratio.toFixed(2)}×`);
    }
  }
  const table = [
    '| Figure | Connections | without --auth req/s | with --auth and a token req/s | × without | server CPU per request, without / with | p50 ms, without / with |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.figure} | ${row.connections} | ${Math.round(row.open.rps).toLocaleString('en-US')} | ${Math.round(row.auth.rps).toLocaleString('en-US')} | ${row.ratio.toFixed(2)}× | ${row.open.cpuUs.toFixed(0)} µs / ${row.auth.cpuUs.toFixed(0)} µs | ${row.open.p50.toFixed(2)} / ${row.auth.p50.toFixed(2)} |`),
  ];
  await writeComparison(resultsFile, {
    title: 'What tokens cost',
    dir: root,
    table,
    lines: [
      `\`node bench/auth.mjs\` (loader ${config.loader}, ${config.rounds} rounds × ${config.seconds} s, the two servers in turn; each ratio is the median of the rounds' ratios).`,
      `chartd without --auth beside chartd with --auth and ${TOKENS} tokens in the file, every request carrying the last one.`,
    ],
  });
} finally {
  for (const server of servers) await server.stop();
  if (!config.keep) await rm(root, { recursive: true, force: true });
}
