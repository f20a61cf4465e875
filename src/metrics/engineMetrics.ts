// The engine as metrics: its hooks count commits, transitions, steps and alert deliveries; its state and its services' are read at each scrape.

import type { Engine, EngineObservers } from '../main.js';
import { ALERTS } from '../runtime/alertRecords.js';
import type { ServiceBoard } from '../services/service.js';
import type { Metrics } from './metrics.js';

/** A synced journal write takes a fraction of a millisecond on a good disk, and seconds on a failing one. */
const WRITE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
/** Steps run from milliseconds (a file move) to hours (a large dump). */
const STEP_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14_400];

/** The hooks to hand startEngine, so what happens while it resumes is counted too. */
export function engineObservers(metrics: Metrics): EngineObservers {
  // Journal writes and transitions come with requests: counted in place, unlike the steps and deliveries below.
  const writes = metrics.histogramInPlace('chartd_store_journal_write_seconds', 'Synced journal writes (O_DSYNC write, or write + fdatasync): what a durable commit waits for.', WRITE_BUCKETS);
  const batches = metrics.histogramInPlace('chartd_store_batch_commits', 'Commits carried by one synced journal write (group commit).', BATCH_BUCKETS);
  const transitions = metrics.counterInPlace('chartd_transitions_total', 'Transitions committed, by chart, from, to and cause (from is empty for a creation).', ['chart', 'from', 'to', 'cause']);
  const started = metrics.counter('chartd_steps_started_total', 'Step attempts started, by handler.', ['handler']);
  const retried = metrics.counter('chartd_steps_retried_total', 'Step attempts started that were not the first (retries), by handler.', ['handler']);
  const ended = metrics.counter('chartd_steps_ended_total', 'Step attempts ended, by handler and outcome (succeeded, failed, stopped).', ['handler', 'outcome']);
  const durations = metrics.histogram('chartd_step_duration_seconds', 'How long step attempts ran, by handler and outcome.', ['handler', 'outcome'], STEP_BUCKETS);
  const deliveries = metrics.counter('chartd_alert_deliveries_total', 'Attempts to deliver an alert to the webhook, by outcome (delivered, failed).', ['outcome']);
  return {
    journalWrite({ commits, ms }) {
      writes.observe(ms / 1000);
      batches.observe(commits);
    },
    change(change) {
      for (const { from, to, cause } of change.recorded) transitions.inc([change.after.chart, from ?? '', to, cause]);
    },
    step(event) {
      const handler = event.handler;
      if (event.phase === 'started') {
        started.inc({ handler });
        if (event.attempt > 1) retried.inc({ handler });
        return;
      }
      ended.inc({ handler, outcome: event.outcome });
      durations.observe({ handler, outcome: event.outcome }, event.ms / 1000);
    },
    alertAttempt(delivered) {
      deliveries.inc({ outcome: delivered ? 'delivered' : 'failed' });
    },
  };
}

/** Gauges and counters read from the running engine at each scrape: nothing is scanned, each is a count kept already. */
export function watchEngine(metrics: Metrics, engine: Engine): void {
  const { runtime, store } = engine;
  metrics.gauge('chartd_instances', 'Instances by chart, state and status, from the runtime\'s tally.', ['chart', 'state', 'status'], (set) => {
    runtime.tally.forEachCount((chart, state, status, count) => set({ chart, state, status }, count));
  });
  metrics.gauge('chartd_timers_pending', 'Deadlines armed in memory (timers, timeouts, retry waits).', [], (set) => set({}, runtime.pendingTimers));
  metrics.gauge('chartd_steps_running', 'Step attempts running now.', [], (set) => set({}, runtime.runningSteps));
  metrics.gauge('chartd_long_polls_waiting', 'Long-poll requests (wait=) parked until their instance changes.', [], (set) => set({}, runtime.waiters.count));
  metrics.gauge('chartd_alerts_pending', 'Alerts recorded and not yet taken by the webhook.', [], async (set) => set({}, await store.count(ALERTS)));
  metrics.gauge('chartd_store_healthy', '1 while the store\'s last write landed; 0 while changes cannot be made durable (see /healthz for why).', [], (set) => set({}, runtime.storeHealth().ok ? 1 : 0));
  metrics.gauge('chartd_store_checkpoint_failing', '1 while checkpoints fail (writes still land; the journals grow).', [], (set) => set({}, runtime.storeHealth().warning ? 1 : 0));
  // The journal and its checkpoints are the embedded store's; PostgreSQL keeps its own figures (pg_stat_*).
  const stats = engine.storeStats;
  if (stats) {
    metrics.gauge('chartd_store_journal_bytes', 'Bytes in journals not yet covered by a checkpoint (a checkpoint starts at 32 MiB).', [], (set) => set({}, stats().journalBytes));
    metrics.gauge('chartd_store_checkpoint_age_seconds', 'Seconds since the last checkpoint finished (or since the store opened, before the first).', [], (set) => {
      set({}, (Date.now() - stats().checkpointedAt) / 1000);
    });
    metrics.countedElsewhere('chartd_store_commits_total', 'Commits made durable.', [], (set) => set({}, stats().commits));
    metrics.countedElsewhere('chartd_store_commit_failures_total', 'Commits refused because their journal write (or one before it) failed.', [], (set) => set({}, stats().failedCommits));
    metrics.countedElsewhere('chartd_store_checkpoints_total', 'Checkpoints finished.', [], (set) => set({}, stats().checkpoints));
  }
  watchServices(metrics, engine.supervisor);
}

/** The supervisor's board, as GET /services and /readyz read it: a switched-off service has no series. */
function watchServices(metrics: Metrics, board: ServiceBoard): void {
  metrics.gauge('chartd_service_up', 'Background services: 1 while running, 0 while starting or failed (exactly those GET /readyz names).', ['service'], (set) => {
    for (const status of board.statuses()) if (status.enabled) set({ service: status.name }, status.state === 'running' ? 1 : 0);
  });
  metrics.countedElsewhere('chartd_service_restarts_total', 'Starts of a background service after its first, by the supervisor.', ['service'], (set) => {
    for (const status of board.statuses()) if (status.enabled) set({ service: status.name }, status.restarts);
  });
}
