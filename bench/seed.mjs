// Writes N instances of a chart straight into a data directory through the compiled store, so start-up can be timed.
// Usage: npm run build && node bench/seed.mjs --data DIR --chart FILE --count 100000 [--prefix i-] [--callers 3] [--history 1]
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const dist = new URL('../dist/', import.meta.url);
const { parseChart } = await import(new URL('chart/load.js', dist).href);
const { createRegistry } = await import(new URL('handlers/registry.js', dist).href);
const { builtinHandlers } = await import(new URL('handlers/builtin.js', dist).href);
const { createSnapshot, transition } = await import(new URL('engine/transition.js', dist).href);
const { INSTANCES, instanceKey } = await import(new URL('runtime/runtime.js', dist).href);
const { openLowdbStore } = await import(new URL('store/lowdbStore.js', dist).href);
const { HISTORY, historyKey } = await import(new URL('runtime/history.js', dist).href);

const BATCH = 1000;

/**
 * Seeds `count` instances `${prefix}0` … of the chart in `chartFile`, each created by the engine and then
 * checked in by `callers` distinct callers, as instances a server had served would look, with `history`
 * transitions kept (its creation, then moves of a distinct gate its callers opened). Returns sizes and time.
 */
export async function seed({ dataDir, chartFile, count, prefix = 'i-', callers = 3, history = 1 }) {
  const started = performance.now();
  const chart = parseChart(await readFile(chartFile, 'utf8'), chartFile, { handlers: createRegistry(builtinHandlers()) });
  // One checkpoint, at close, instead of one per 8 MiB of journal: seeding writes every shard anyway.
  const store = await openLowdbStore(dataDir, { checkpointBytes: Number.MAX_SAFE_INTEGER });
  let bytes = 0;
  try {
    const now = Date.now();
    for (let start = 0; start < count; start += BATCH) {
      const writes = [];
      for (let index = start; index < Math.min(count, start + BATCH); index++) {
        const { snapshot, recorded } = seededSnapshot(chart, `${prefix}${index}`, callers, history, now);
        if (index === start) bytes += JSON.stringify(snapshot).length * Math.min(BATCH, count - start);
        const key = instanceKey(chart.name, snapshot.id);
        writes.push({ collection: INSTANCES, key, value: snapshot });
        recorded.forEach((entry, seq) => writes.push({ collection: HISTORY, key: historyKey(key, seq + 1), value: entry }));
      }
      await store.commit(writes);
    }
  } finally {
    await store.close();
  }
  return { count, chart: chart.name, bytesPerInstance: count ? Math.round(bytes / count) : 0, ms: Math.round(performance.now() - started) };
}

function seededSnapshot(chart, id, callers, history, now) {
  const created = createSnapshot(chart, id, {}, now);
  const recorded = [...created.recorded];
  let snapshot = created.snapshot;
  const hosts = Array.from({ length: callers }, (_, index) => `host-${index + 1}`);
  for (let revision = 2; recorded.length < history; revision++) {
    const at = new Date(now + revision).toISOString();
    recorded.push({ revision, at, from: snapshot.state, to: snapshot.state, cause: 'put', caller: hosts.at(-1), token: 'fleet', callers: hosts });
  }
  snapshot = { ...snapshot, revision: recorded.at(-1).revision, transitions: recorded.length };
  for (const by of hosts) {
    const outcome = transition(chart, snapshot, { type: 'put', state: snapshot.state, by }, now + history + 1);
    if (outcome.accepted && !outcome.unchanged) snapshot = outcome.snapshot;
  }
  return { snapshot, recorded };
}

if (import.meta.url === new URL(process.argv[1], 'file:').href) {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      chart: { type: 'string', default: new URL('charts/gate.yaml', import.meta.url).pathname },
      count: { type: 'string', default: '100000' },
      prefix: { type: 'string', default: 'i-' },
      callers: { type: 'string', default: '3' },
      history: { type: 'string', default: '1' },
    },
  });
  if (!values.data) {
    process.stderr.write('usage: node bench/seed.mjs --data DIR [--chart FILE] [--count N] [--prefix i-] [--callers 3] [--history 1]\n');
    process.exit(2);
  }
  const result = await seed({
    dataDir: values.data, chartFile: values.chart, count: Number(values.count), prefix: values.prefix, callers: Number(values.callers),
    history: Number(values.history),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
