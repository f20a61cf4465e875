// CPU time of another process, for the load runs' "server CPU per request".
import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) process `pid` has used so far; /proc counts in USER_HZ, 100 on Linux. */
export function serverCpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
