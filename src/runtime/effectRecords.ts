// The engine's runStep and armTimer effects as stored documents: written in the commit of the snapshot that owes them, claimed by the effect runner.

import { owedEffects, type Owed } from '../engine/effects.js';
import type { Snapshot } from '../engine/snapshot.js';
import { unlessTaken, type Store, type Write } from '../store/port.js';
import { readAll } from '../store/readAll.js';

export const EFFECTS = 'effects';

/** Where start-up notes that the data directory's effects were derived from its snapshots (see deriveEffects). */
const MIGRATIONS = 'migrations';
const DERIVED = 'effects';

/** Instances whose effects one commit of deriveEffects writes. */
const DERIVE_BATCH = 200;

export interface EffectRecord {
  /** The instance's key, chart/id. */
  readonly instance: string;
  readonly effect: Owed;
  /** Epoch ms from which it may be claimed: when it was owed for a step, the deadline for a timer. */
  readonly due: number;
}

/** One document per kind and instance: a step attempt and a deadline never wait together, and a newer one replaces the older. */
export function effectKey(instance: string, effect: Owed): string {
  return `${instance}/${effect.type === 'runStep' ? 'step' : 'deadline'}`;
}

function record(instance: string, effect: Owed, now: number): EffectRecord {
  return { instance, effect, due: effect.type === 'armTimer' ? effect.at : now };
}

/**
 * The effect documents a change of `instance` from `before` to `after` writes: those `after` owes anew, and the
 * deletion of those it no longer owes. An effect owed by both is left alone, so its lease (a step running) holds.
 */
export function effectWrites(instance: string, before: Snapshot | undefined, after: Snapshot | undefined, now: number): Write[] {
  const was = new Map((before ? owedEffects(before) : []).map((effect) => [effectKey(instance, effect), effect]));
  const writes: Write[] = [];
  for (const effect of after ? owedEffects(after) : []) {
    const key = effectKey(instance, effect);
    const old = was.get(key);
    was.delete(key);
    if (!old || !sameEffect(old, effect)) writes.push({ collection: EFFECTS, key, value: record(instance, effect, now) });
  }
  for (const key of was.keys()) writes.push({ collection: EFFECTS, key, value: null });
  return writes;
}

/** Whether `record` is still owed by `snapshot` (undefined: the instance is gone). */
export function stillOwed(record: EffectRecord, snapshot: Snapshot | undefined): boolean {
  return snapshot !== undefined && owedEffects(snapshot).some((effect) => sameEffect(effect, record.effect));
}

function sameEffect(a: Owed, b: Owed): boolean {
  if (a.type === 'armTimer') return b.type === 'armTimer' && a.at === b.at;
  return b.type === 'runStep' && a.state === b.state && a.attempt === b.attempt;
}

/**
 * Once per data directory: a store written before effects were stored holds none, so the effects each active
 * instance owes are derived from its snapshot and committed, then the store is marked. An interrupted run leaves
 * some written; the next start adds only those missing. Returns how many were written.
 */
export async function deriveEffects(store: Store, instances: string, now: number): Promise<number> {
  if (await store.get(MIGRATIONS, DERIVED)) return 0;
  const existing = new Set((await readAll<EffectRecord>(store, EFFECTS)).map((stored) => effectKey(stored.instance, stored.effect)));
  const missing = (await readAll<Snapshot>(store, instances))
    .flatMap((snapshot) => effectWrites(`${snapshot.chart}/${snapshot.id}`, undefined, snapshot, now))
    .filter((write) => !existing.has(write.key))
    .map((write) => ({ ...write, expect: 0 }));
  // A replica starting at the same time derives the same documents: its commit landing first is as good as ours.
  for (let start = 0; start < missing.length; start += DERIVE_BATCH) await store.commit(missing.slice(start, start + DERIVE_BATCH)).catch(unlessTaken);
  await store.commit([{ collection: MIGRATIONS, key: DERIVED, value: { at: new Date(now).toISOString() }, expect: 0 }]).catch(unlessTaken);
  return missing.length;
}
