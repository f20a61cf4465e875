// ReplicaRegistry on one store: replicas heard from are counted, a killed one is left out, and its record removed an hour on.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FORGOTTEN_AFTER_MS, GONE_AFTER_MS, HEARTBEAT_MS, REPLICAS, ReplicaRegistry } from '../../src/runtime/replicaRegistry.js';
import { openLowdbStore, type LowdbStore } from '../../src/store/lowdbStore.js';
import { SimulatedClock } from '../support/clock.js';
import { capturingLogger, removeDir } from '../support/server.js';

let store: LowdbStore | undefined;
let dir: string | undefined;
const registries: ReplicaRegistry[] = [];

afterEach(async () => {
  for (const registry of registries.splice(0)) await registry.stop();
  await store?.close();
  if (dir) await removeDir(dir);
  store = undefined;
  dir = undefined;
});

/** A registry on `clock`; stopping its clock (never advancing it again) is how a killed replica looks. */
function registryOn(opened: LowdbStore, clock: SimulatedClock, log = capturingLogger('info').log): ReplicaRegistry {
  const registry = new ReplicaRegistry({ store: opened, clock, log, served: () => [] });
  registries.push(registry);
  return registry;
}

describe('ReplicaRegistry', () => {
  it('leaves a replica that stopped writing out of the count after GONE_AFTER_MS, and removes its record after FORGOTTEN_AFTER_MS', async () => {
    dir = await mkdtemp(join(tmpdir(), 'chartd-replicas-'));
    store = await openLowdbStore(dir);
    const clock = new SimulatedClock();
    const { log, lines } = capturingLogger('info');
    const live = registryOn(store, clock, log);
    // The killed replica's heartbeat runs on a clock of its own that never moves again.
    const killed = registryOn(store, new SimulatedClock(clock.now()));
    await killed.start();
    await live.start();
    expect(live.view().live).toBe(2);

    await clock.advance(GONE_AFTER_MS + HEARTBEAT_MS);
    await live.refresh();
    expect(live.view().live).toBe(1);
    expect(await store.get(REPLICAS, killed.self)).toBeDefined();

    await clock.advance(FORGOTTEN_AFTER_MS - GONE_AFTER_MS);
    await live.refresh();
    expect(await store.get(REPLICAS, killed.self)).toBeUndefined();
    expect(await store.get(REPLICAS, live.self)).toBeDefined();
    expect(lines.filter((line) => line.msg.startsWith('removed the record of a replica')).map((line) => line.replica)).toEqual([killed.self]);
    registries.splice(registries.indexOf(killed), 1);
  });

  it('lets two replicas remove the same long-gone record at once: one removes it, the other is not troubled', async () => {
    dir = await mkdtemp(join(tmpdir(), 'chartd-replicas-'));
    store = await openLowdbStore(dir);
    const clock = new SimulatedClock();
    const killed = registryOn(store, new SimulatedClock(clock.now()));
    const [a, b] = [registryOn(store, clock), registryOn(store, clock)];
    await killed.start();
    await a!.start();
    await b!.start();
    registries.splice(registries.indexOf(killed), 1);
    await clock.advance(FORGOTTEN_AFTER_MS);
    // Each heartbeat schedules the next once written, so the two living ones write theirs here, as they would.
    await a!.publish();
    await b!.publish();
    await Promise.all([a!.refresh(), b!.refresh()]);
    expect(await store.get(REPLICAS, killed.self)).toBeUndefined();
    expect(a!.view().live).toBe(2);
    expect(b!.view().live).toBe(2);
  });
});
