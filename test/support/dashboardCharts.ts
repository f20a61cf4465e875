// The charts the dashboard tests serve: a gate two web nodes check in to, a gate that times out at once, the traffic
// light, and backup-request (driven by the backup controller).

import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TRAFFIC_LIGHT, writeCharts } from './server.js';

export const GATED = `chart: gated
description: Two web nodes check in, then the release is verified.
initial: wait
states:
  wait:
    gate: { count: 2, distinct: true }
    next: verify
    on: { abort: aborted }
    timeout: { after: 1h, next: aborted }
  verify:
    on: { passed: done, failed: aborted }
  done: { final: true }
  aborted: { final: true }
`;

/** Times out 50 ms after it starts, so there is a failure to show. */
export const WATCHDOG = `chart: watchdog
initial: waiting
states:
  waiting:
    gate: { count: 1 }
    next: fine
    timeout: { after: 50ms, next: late }
  fine: { final: true }
  late: { final: true }
`;

/** Writes the charts into DIR/charts and returns that directory. */
export async function writeDashboardCharts(dir: string): Promise<string> {
  const charts = join(dir, 'charts');
  await mkdir(charts);
  await writeCharts(charts, { 'traffic-light.yaml': TRAFFIC_LIGHT, 'gated.yaml': GATED, 'watchdog.yaml': WATCHDOG });
  await copyFile('charts/backup-request.yaml', join(charts, 'backup-request.yaml'));
  return charts;
}
