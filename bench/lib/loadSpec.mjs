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
