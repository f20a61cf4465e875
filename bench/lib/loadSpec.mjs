// What a load run (load.mjs for autocannon, wrk.mjs for wrk) is given, checked the same way for both, and the
// server CPU it measures.
import { readFileSync } from 'node:fs';

/** The run's spec from argv[2] (JSON; see load.mjs); load goes to loopback only. */
export function readLoadSpec() {
  const spec = JSON.parse(process.argv[2]);
  const { hostname } = new URL(spec.url);
  if (hostname !== '127.0.0.1') throw new Error(`load goes to loopback (127.0.0.1) only, not ${hostname}`);
  if (spec.instances && spec.connections > spec.instances) {
    throw new Error(`${spec.connections} connections would share instances among ${spec.instances}`);
  }
  return spec;
}

/** CPU seconds (user + system) process `pid` has used so far; /proc counts in USER_HZ, 100 on Linux. */
export function serverCpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Seconds of warm-up runs at most while waiting for `warmupRequests` answers: a server answering errors must not hold a run up. */
const WARMUP_MAX_SECONDS = 120;

/**
 * The unrecorded warm-up: `warmup` seconds, then one-second runs until the server has answered `warmupRequests`
 * (JIT compilers tier code up by the work done, not the time taken, so a server given a third of the load warms
 * up three times slower). `run(seconds)` resolves with the requests answered.
 */
export async function warmUp(spec, run) {
  let answered = spec.warmup > 0 ? await run(spec.warmup) : 0;
  for (let seconds = 0; answered < (spec.warmupRequests ?? 0) && seconds < WARMUP_MAX_SECONDS; seconds += 1) answered += await run(1);
}
