// Store micro-benchmark: commit latency at 10 vs 100,000 documents, and open time / RSS at 100,000.
// Usage: npm run build && node bench/store-micro.mjs [--docs 100000] [--commits 2000] [--rounds 5] [--module dist/store/lowdbStore.js]
// Each measurement runs in a fresh process; commit rounds alternate small/large so a noisy neighbour hits both alike.
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median, percentile } from './lib/stats.mjs';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    docs: { type: 'string', default: '100000' },
    commits: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    module: { type: 'string', default: fileURLToPath(new URL('../dist/store/lowdbStore.js', import.meta.url)) },
  },
});
const { openLowdbStore } = await import(pathToFileURL(resolve(args.module)).href);

/** A snapshot shaped like the engine's, ~600 bytes of JSON. */
function snapshotOf(index, revision = 1) {
  return {
    chart: 'rolling-upgrade', version: 'sha256-3f2a9c1b7d4e5a60', id: `inst-${index}`, state: 'drain', status: 'active',
    context: { release: `v1.2.${index}`, region: 'eu-west-1' }, counter: index % 3, callers: ['web-1', 'web-2'],
    deadline: { at: 1764547200000 + index, kind: 'timer' }, attempt: 0, revision,
    enteredAt: '2026-11-22T06:00:00.000Z', createdAt: '2026-11-22T05:00:00.000Z', updatedAt: '2026-11-22T06:00:00.000Z',
    history: [
      { revision: 1, at: '2026-11-22T05:00:00.000Z', from: null, to: 'drain', cause: 'create' },
      { revision: 2, at: '2026-11-22T05:30:00.000Z', from: 'drain', to: 'drain', cause: 'put', caller: 'web-1' },
    ],
    failures: [],
  };
}

const write = (index, revision) => ({ collection: 'instances', key: `rolling-upgrade/inst-${index}`, value: snapshotOf(index, revision) });

async function populate(dir, count) {
  const store = await openLowdbStore(dir);
  for (let start = 0; start < count; start += 500) {
    await store.commit(Array.from({ length: Math.min(500, count - start) }, (_, offset) => write(start + offset, 1)));
  }
  await store.close();
}

/** Child: sequential single-document commits, each awaited, as one request would see them. */
async function measureCommits(dir, docs, commits) {
  const store = await openLowdbStore(dir);
  const times = [];
  for (let round = 0; round < commits; round++) {
    const started = process.hrtime.bigint();
    await store.commit([write(Math.floor(Math.random() * docs), round + 2)]);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  await store.close();
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p90: percentile(times, 0.9) };
}

/** Child: open in a fresh process, as a server start would. */
async function measureOpen(dir) {
  const started = performance.now();
  const store = await openLowdbStore(dir);
  const openMs = performance.now() - started;
  const listed = store.list('instances').length;
  const { rss, heapUsed } = process.memoryUsage();
  const { journalBytes } = store.stats();
  await store.close();
  return { openMs: Math.round(openMs), listed, rssMB: Math.round(rss / 1e6), heapMB: Math.round(heapUsed / 1e6), journalBytes };
}

function inChild(...childArgs) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...childArgs, '--module', args.module], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout);
}

if (positionals[0] === 'commits') {
  console.log(JSON.stringify(await measureCommits(positionals[1], Number(positionals[2]), Number(args.commits))));
} else if (positionals[0] === 'open') {
  console.log(JSON.stringify(await measureOpen(positionals[1])));
} else {
  const docs = Number(args.docs);
  const root = await mkdtemp(join(tmpdir(), 'chartd-bench-'));
  try {
    const small = join(root, 'small');
    const large = join(root, 'large');
    await populate(small, 10);
    let started = performance.now();
    await populate(large, docs);
    console.log(`populated ${docs} documents in ${Math.round(performance.now() - started)} ms`);

    const results = { small: [], large: [] };
    for (let round = 0; round < Number(args.rounds); round++) {
      results.small.push(inChild('commits', small, '10'));
      results.large.push(inChild('commits', large, String(docs)));
    }
    for (const [name, runs] of Object.entries(results)) {
      const p50s = runs.map((run) => run.p50.toFixed(3)).join(' ');
      console.log(`commit ms, ${name === 'small' ? 10 : docs} docs: p50 per round ${p50s}; median p50 ${median(runs.map((run) => run.p50)).toFixed(3)}, median p90 ${median(runs.map((run) => run.p90)).toFixed(3)}`);
    }
    console.log(`p50 ratio ${docs}/10: ${(median(results.large.map((run) => run.p50)) / median(results.small.map((run) => run.p50))).toFixed(2)}`);

    for (let round = 0; round < 3; round++) console.log('open after a clean close:', JSON.stringify(inChild('open', large)));

    // Leave ~7.7 MB of journal behind, as a kill -9 just before a checkpoint would, and open that.
    const store = await openLowdbStore(large);
    for (let round = 0; round < 11000; round++) await store.commit([write(Math.floor(Math.random() * docs), 99)]);
    const crashed = join(root, 'crashed');
    await cp(large, crashed, { recursive: true });
    await rm(join(crashed, 'LOCK'));
    await store.close();
    console.log('open with a journal to replay:', JSON.stringify(inChild('open', crashed)));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
