// The load generator's own process when BENCH_LOADER=wrk: one wrk run (one thread), the same spec and JSON
// result as load.mjs, so the reference figures (taken with wrk) can be set beside chartd's.
// Usage: node bench/lib/wrk.mjs '{"url":"http://127.0.0.1:PORT","method":"GET","path":"/state?state=open",
//   "connections":16,"seconds":3,"warmup":1,"instances":1000,"pid":SERVER_PID}'
// wrk is not on the npm registry: install it from the system's packages (Debian: apt-get install wrk).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readLoadSpec, serverCpuSeconds, warmUp } from './loadSpec.mjs';

const SCRIPT = fileURLToPath(new URL('./wrk.lua', import.meta.url));
const spec = readLoadSpec();

/** wrk takes whole seconds; shorter runs are rounded up to one. */
function wrk(seconds) {
  const args = ['--threads', '1', '--connections', String(spec.connections), '--duration', `${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s',
    '--script', SCRIPT, spec.url, '--', spec.method, spec.path, String(spec.instances ?? 0),
    ...Object.entries(spec.headers ?? {}).flat()];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, (error, stdout, stderr) => {
      if (error) {
        const missing = error.code === 'ENOENT';
        return reject(new Error(missing ? 'wrk is not installed (Debian: apt-get install wrk); unset BENCH_LOADER to use autocannon' : `wrk failed: ${error.message}\n${stdout}${stderr}`));
      }
      const line = /^BENCH-RESULT (.*)$/m.exec(stdout);
      if (!line) return reject(new Error(`wrk printed no result line:\n${stdout}${stderr}`));
      resolve(JSON.parse(line[1]));
    });
  });
}

await warmUp(spec, async (seconds) => {
  const warming = await wrk(seconds);
  return warming.requests - warming.non2xx;
});
const cpuBefore = spec.pid ? serverCpuSeconds(spec.pid) : 0;
const run = await wrk(spec.seconds);
const cpu = spec.pid ? serverCpuSeconds(spec.pid) - cpuBefore : Number.NaN;
const ok = run.requests - run.non2xx;
process.stdout.write(`${JSON.stringify({
  rps: ok / (run.durationUs / 1e6), cpuUs: (cpu * 1e6) / ok, p50: run.p50Us / 1000, p99: run.p99Us / 1000, ok,
  statuses: { '2xx': ok, ...(run.non2xx ? { 'not 2xx': run.non2xx } : {}) }, errors: run.socketErrors,
})}\n`);
