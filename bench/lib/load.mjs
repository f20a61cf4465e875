// The load generator's own process: one autocannon run, its own sub-millisecond latencies, JSON on stdout.
// Usage: node bench/lib/load.mjs '{"url":"http://127.0.0.1:PORT","method":"GET","path":"/state?state=open",
//   "connections":16,"seconds":3,"warmup":1,"instances":1000,"pid":SERVER_PID}'
// With `pid`, the server's CPU time per answered request is measured too (from /proc/PID/stat).
// With `warmupRequests`, the warm-up goes on after `warmup` seconds until the server has answered that many.
// With `headers` ({name: value}), every request carries them (e.g. an Authorization header).
// With `instances`, `{i}` in the path is an instance number: connection c of C owns instances c, c+C, c+2C, …
// and goes round them in turn, so every request goes to another instance than the one before it, and no two
// requests in flight ever share an instance (needs C ≤ instances).
import autocannon from 'autocannon';
import { readLoadSpec, serverCpuSeconds, warmUp } from './loadSpec.mjs';
import { percentile } from './stats.mjs';

const spec = readLoadSpec();

/**
 * Gives each new connection its lane of instances; called by autocannon once per connection. The lane's
 * requests are built once, up front: a `setupRequest` callback would make autocannon rebuild every request,
 * spending the loader's CPU (on the same cores as the server) on this figure alone.
 */
function laneSetter() {
  let lanes = 0;
  return (client) => {
    const lane = lanes++ % spec.connections;
    const owned = Math.ceil((spec.instances - lane) / spec.connections);
    client.setRequests(Array.from({ length: owned }, (_, turn) => ({
      method: spec.method,
      path: spec.path.replace('{i}', String(lane + turn * spec.connections)),
      ...(spec.headers ? { headers: spec.headers } : {}),
    })));
  };
}

async function run(seconds, record) {
  const latencies = [];
  const statuses = {};
  const instance = autocannon({
    // The path goes in the URL: autocannon takes the request path from it, over any `path` option.
    url: new URL(spec.path.replace('{i}', '0'), spec.url).href, connections: spec.connections, duration: seconds,
    pipelining: 1, timeout: 10, method: spec.method, ...(spec.headers ? { headers: spec.headers } : {}),
    ...(spec.instances ? { setupClient: laneSetter() } : {}),
  });
  // autocannon's own histogram keeps whole milliseconds; a GET takes a fraction of one, so keep the raw times.
  instance.on('response', (_client, status, _bytes, ms) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (record) latencies.push(ms);
  });
  const started = performance.now();
  const cpuBefore = spec.pid ? serverCpuSeconds(spec.pid) : 0;
  const result = await instance;
  const cpu = spec.pid ? serverCpuSeconds(spec.pid) - cpuBefore : Number.NaN;
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  let ok = 0;
  for (const [status, count] of Object.entries(statuses)) if (status.startsWith('2')) ok += count;
  return { rps: ok / elapsed, cpuUs: (cpu * 1e6) / ok, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), ok, statuses, errors: result.errors };
}

await warmUp(spec, async (seconds) => (await run(seconds, false)).ok);
process.stdout.write(`${JSON.stringify(await run(spec.seconds, true))}\n`);
