// chartd's own background loops as services: the store's checkpointer, the timers, the step runner, alert delivery and retention.

import type { AlertOutbox } from '../runtime/alertOutbox.js';
import type { ReplicaRegistry } from '../runtime/replicaRegistry.js';
import type { Retention } from '../runtime/retention.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StoreHealth } from '../store/port.js';
import type { Service } from './service.js';

/** Failed while checkpoints fail (the store's health warning); a start checkpoints at once instead of waiting for the journals to grow. */
export function checkpointerService(store: { health(): StoreHealth; checkpoint(): Promise<void> }): Service {
  return {
    name: 'checkpointer',
    async start() {
      if (store.health().warning !== undefined) await store.checkpoint();
    },
    stop: async () => {},
    failure: () => store.health().warning,
  };
}

/** Failed while this replica cannot record the charts it serves (its heartbeat in the store's `replicas`). */
export function replicasService(registry: ReplicaRegistry): Service {
  return { name: 'replicas', start: async () => {}, stop: async () => {}, failure: () => registry.failure() };
}

/**
 * The timers and the step runner (both the effect runner): failed while a deadline that came due, or a step's outcome,
 * is not applied; a start claims the effects due now. Both stop with the runtime.
 */
export function runtimeServices(runtime: Runtime): Service[] {
  return (['deadline', 'step'] as const).map((kind) => ({
    name: kind === 'deadline' ? 'timers' : 'steps',
    start: async () => runtime.claimDueEffects(),
    stop: async () => {},
    failure: () => runtime.effectFailure(kind),
  }));
}

/** Failed while the webhook has refused the last few attempts and alerts wait; a start tries at once with a fresh backoff. */
export function alertsService(outbox: AlertOutbox): Service {
  return { name: 'alerts', start: async () => outbox.start(), stop: () => outbox.stop(), failure: () => outbox.failure() };
}

/** --retain-finished: failed while the store refuses the removals (they are tried again); a start reads the finished instances stored again. */
export function retentionService(retention: Retention): Service {
  return { name: 'retention', start: () => retention.start(), stop: () => retention.stop(), failure: () => retention.failure() };
}
