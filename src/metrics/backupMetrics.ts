// The backup services as metrics, read at each scrape: the controller's requests, inbox and circuits; a zone's outbox.

import type { BackupController } from '../backup/controller/controller.js';
import type { CircuitView } from '../backup/resilience.js';
import type { ZoneOutbox } from '../backup/zone/zoneOutbox.js';
import type { Metrics } from './metrics.js';

const CIRCUIT_STATES: readonly CircuitView[] = ['closed', 'open', 'half-open', 'isolated'];

export function watchController(metrics: Metrics, controller: BackupController): void {
  metrics.gauge('chartd_backup_requests', 'Backup requests by state.', ['state'], (set) => {
    for (const [state, count] of Object.entries(controller.requestsByState())) set({ state }, count);
  });
  metrics.gauge('chartd_backup_inbox_results', 'Zone results stored in the controller\'s inbox and not yet recorded.', [], async (set) => set({}, await controller.inbox.size()));
  // One series per state, 1 for the current one: alert rules and panels select the state they care about.
  metrics.gauge('chartd_backup_circuit_state', 'Circuit breaker in front of each remote service (job-service, zone:NAME): 1 for its current state.', ['dependency', 'state'], (set) => {
    for (const { dependency, circuit } of controller.circuits()) {
      for (const state of CIRCUIT_STATES) set({ dependency, state }, state === circuit ? 1 : 0);
    }
  });
}

export function watchZoneOutbox(metrics: Metrics, outbox: ZoneOutbox): void {
  metrics.gauge('chartd_zone_outbox_results', 'Results waiting in the zone\'s outbox for the controller to take them (or refused by it for good).', [], (set) => set({}, outbox.size));
}
