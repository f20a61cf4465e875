// Builds the backup controller from its configuration; loaded only when a server is started with --backup-config.

import type { Logger } from 'pino';
import type { Fetch } from '../../net/httpClient.js';
import type { Clock } from '../../runtime/clock.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Store } from '../../store/port.js';
import type { BackupConfig } from './config.js';
import { BackupController } from './controller.js';
import { createFileJobSource } from './fileJobSource.js';
import { createHttpJobSource } from './httpJobSource.js';
import { createHttpZone } from './httpZone.js';

export { loadBackupConfig } from './config.js';
export { REQUEST_CHART } from './controller.js';

export function createBackupController(config: BackupConfig, { fetch, ...parts }: { runtime: Runtime; store: Store; clock: Clock; log: Logger; fetch: Fetch; owner: string; leaseMs: number }): BackupController {
  const jobs = config.jobs.kind === 'http'
    ? createHttpJobSource(config.jobs.url, config.jobCalls, fetch, config.jobs.token)
    : createFileJobSource(config.jobs.file);
  const zones = new Map([...config.zones.values()].map((zone) => [zone.name, createHttpZone(zone, config.zoneCalls, fetch)] as const));
  return new BackupController({ ...parts, log: parts.log.child({ component: 'backup-controller' }), jobs, zones, answerWithinMs: config.answerWithinMs });
}
