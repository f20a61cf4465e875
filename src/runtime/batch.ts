// One batch of one instance's work: every input, creation, restart and removal applied in order on the engine, committed once.

import type { Chart } from '../chart/model.js';
import { isFinished, type Context, type Snapshot } from '../engine/snapshot.js';
import { createSnapshot, restartSnapshot, transition, type Input, type Origin, type Outcome, type Restart } from '../engine/transition.js';
import { Conflict, NotFound } from '../errors.js';
import { WriteConflict, type Fence, type Store, type Write } from '../store/port.js';
import { failureReports, type Alerter, type FailureReport } from './alerts.js';
import type { Clock } from './clock.js';
import { EFFECTS, effectWrites } from './effectRecords.js';
import { GroupRead } from './groupRead.js';
import { HistoryWrites } from './history.js';
import type { Quota } from './quota.js';

export const INSTANCES = 'instances';

export type Work =
  /** `fence`: the claim on the effect this input carries out (a deadline, a step's outcome), which the commit must still hold. */
  | { readonly kind: 'input'; readonly input: Input; readonly fence?: Fence }
  | { readonly kind: 'create'; readonly context: Context; readonly origin: Origin }
  | { readonly kind: 'restart'; readonly chart: Chart; readonly restart: Restart }
  | { readonly kind: 'remove' };
export type Done = { readonly outcome: Outcome; readonly created: boolean } | { readonly error: Error };

/** A snapshot (undefined: no instance) and its revision in the store (0: none), once the commits handed in land. */
interface Base {
  readonly snapshot: Snapshot | undefined;
  readonly revision: number;
  /** For a change handed to the store: what it was built on, until it is committed (then nothing can fail under it). */
  on?: Base;
  /** For a change handed to the store: the store refused it. */
  refused?: boolean;
}

/**
 * Tries of one batch, at most: each WriteConflict means another change of the instance landed first, and the
 * next try builds on it. Only a store that keeps changing under every try runs out.
 */
const MAX_ATTEMPTS = 50;

export interface BatchOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly alerter: Alerter;
  readonly quota: Quota;
  /**
   * Other replicas write to the store too. A revision then names no content: a change built on one still on its
   * way would find another replica's change holding the revision it expects, so each batch waits for the one before.
   */
  readonly shared?: boolean;
  /** The chart served under a name: what creations start on. */
  chart(name: string): Chart;
  /** The version an instance runs on. */
  chartOf(snapshot: Snapshot): Chart;
  failurePrefix(snapshot: Snapshot): string;
  /** Persist, then act: called once the batch's change is durable (`after` undefined: the instance was removed). */
  committed(key: string, before: Snapshot | undefined, after: Snapshot | undefined, outcomes: Outcome[], reports: readonly FailureReport[]): void;
}

export class InstanceBatches {
  /**
   * Per instance, the newest snapshot handed to the store and not yet committed (undefined: its removal), with
   * the revision that commit gives it: the next batch builds on it and expects that revision.
   */
  private readonly uncommitted = new Map<string, Base>();
  /** On a shared store, the batches of many instances read what is stored together: a read is a round trip. */
  private readonly reads: GroupRead<Snapshot> | undefined;

  constructor(private readonly options: BatchOptions) {
    if (options.shared) this.reads = new GroupRead(options.store, INSTANCES);
  }

  /**
   * One batch for one instance: apply every item in order, commit once, then answer each. It builds on the
   * previous batch's snapshot even while that is still on its way to disk, expecting the revision it will
   * have; if that commit fails, or another writer got there first, the store refuses this one with
   * WriteConflict and the batch is applied again to what is stored (the engine is pure, so that is safe).
   */
  async process(key: string, items: readonly Work[], handed: () => void): Promise<Done[]> {
    let base = this.handed(key) ?? (await this.stored(key));
    /** Inputs whose claim the store said is lost: answered with that refusal, the rest applied again without them. */
    const refused = new Map<Work, WriteConflict>();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(key, items, base, handed, refused);
      } catch (error) {
        if (!(error instanceof WriteConflict) || attempt === MAX_ATTEMPTS) throw error;
        const fenced = fencedItems(items, refused);
        if (fenced.fence && error.keys.some((conflict) => conflict.collection === EFFECTS && conflict.key === fenced.fence!.key)) {
          for (const item of fenced.items) refused.set(item, error);
        }
        // A batch of the same instance rebuilt before this one may have handed its change in meanwhile.
        base = this.handed(key) ?? (await this.stored(key));
      }
    }
  }

  private async attempt(key: string, items: readonly Work[], read: Base, handed: () => void, refused: ReadonlyMap<Work, WriteConflict>): Promise<Done[]> {
    const { store, clock } = this.options;
    // A batch of the same instance rebuilt after a conflict may have handed its change in while `read` was read.
    const before = this.handed(key) ?? read;
    let current = before.snapshot;
    const done: Done[] = [];
    const outcomes: Outcome[] = [];
    /** Made by the first transition recorded: a check-in a gate only counts writes no history. */
    let history: HistoryWrites | undefined;
    /** The chart of the instance this batch creates, whose quota place is given back if the commit fails. */
    let creating: string | undefined;
    const now = clock.now();
    const { fence } = fencedItems(items, refused);
    for (const item of items) {
      const lost = refused.get(item);
      if (lost) {
        done.push({ error: lost });
        continue;
      }
      if (item.kind === 'input' && item.fence && item.fence !== fence) {
        // One claim per commit: another effect of the instance claimed at the same moment waits for a batch of its own.
        done.push({ error: new WriteConflict([item.fence]) });
        continue;
      }
      if (item.kind === 'remove' || item.kind === 'restart') {
        const result = current ? this.finishedWork(current, item, now) : { error: new NotFound(`instance ${key} does not exist`) };
        if ('outcome' in result && result.outcome.accepted) {
          if (item.kind === 'remove') (history ??= new HistoryWrites(key)).remove(current!);
          outcomes.push(result.outcome);
          history = recordHistory(history, key, result.outcome);
          current = item.kind === 'remove' ? undefined : result.outcome.snapshot;
        }
        done.push(result);
        continue;
      }
      if (item.kind === 'create') {
        if (current) {
          done.push({ outcome: { snapshot: current, effects: [], recorded: [], accepted: true, unchanged: true }, created: false });
          continue;
        }
        const [chartName, id] = splitKey(key);
        const refused = await this.options.quota.take(chartName);
        if (refused) {
          done.push({ error: refused });
          continue;
        }
        creating = chartName;
        const outcome = createSnapshot(this.options.chart(chartName), id, item.context, now, item.origin);
        current = outcome.snapshot;
        outcomes.push(outcome);
        history = recordHistory(history, key, outcome);
        done.push({ outcome, created: true });
        continue;
      }
      if (!current) {
        done.push({ error: noInstance(key) });
        continue;
      }
      const outcome = transition(this.options.chartOf(current), current, item.input, now);
      if (outcome.accepted && !outcome.unchanged) {
        current = outcome.snapshot;
        outcomes.push(outcome);
        history = recordHistory(history, key, outcome);
      }
      done.push({ outcome, created: false });
    }
    if (current === before.snapshot) {
      handed();
      return done;
    }
    const handing: Base = { snapshot: current, revision: current ? before.revision + 1 : 0, on: before };
    const previous = this.uncommitted.get(key);
    this.uncommitted.set(key, handing);
    const reports = current ? failureReports(key, current, outcomes, () => this.options.failurePrefix(current)) : [];
    try {
      const writes: Write[] = [{ collection: INSTANCES, key, value: current ?? null, expect: before.revision }];
      history?.addTo(writes);
      writes.push(...effectWrites(key, before.snapshot, current, now));
      if (reports.length) writes.push(...this.options.alerter.record(reports, now));
      // The next batch of this instance starts once this write has begun, so it gathers what arrives meanwhile.
      await store.commit(writes, { ...(this.options.shared ? {} : { issued: handed }), ...(fence ? { fence } : {}) });
    } catch (error) {
      if (creating) this.options.quota.giveBack(creating);
      handing.refused = true;
      const latest = this.uncommitted.get(key);
      // A change refused at once (another got there first) gives the place back to the one it had taken it from;
      // whatever was handed in on top of a refused change fails with it, and the next batch builds on what is stored.
      if (latest === handing && previous && !previous.refused && !builtOn(previous, handing)) this.uncommitted.set(key, previous);
      else if (latest && builtOn(latest, handing)) this.uncommitted.delete(key);
      throw error;
    }
    handing.on = undefined;
    if (this.uncommitted.get(key) === handing) this.uncommitted.delete(key);
    this.options.committed(key, before.snapshot, current, outcomes, reports);
    // After `committed`, so a replica counting from what it follows counts the instance once throughout.
    if (creating) this.options.quota.created(creating);
    return done;
  }

  /**
   * Removes finished instances together, in one commit (retention), leaving out those with work queued, being built
   * or on its way to the store (`busy`, named in the answer), no longer finished, or gone. Each removal expects the
   * revision read; one that changed meanwhile is left out and the rest committed again. Until the commit lands, the
   * next batch of each builds on its removal, as on any change still on its way. Resolves with the snapshots removed.
   */
  async removeTogether(keys: readonly string[], busy: (key: string) => boolean): Promise<{ removed: Snapshot[]; busy: string[] }> {
    const left = keys.filter((key) => busy(key) || this.uncommitted.has(key));
    let removing: { key: string; base: Base }[] = [];
    for (const key of keys) {
      if (left.includes(key)) continue;
      const base = await this.stored(key);
      if (base.snapshot && isFinished(base.snapshot)) removing.push({ key, base });
    }
    for (let attempt = 1; removing.length; attempt++) {
      const handings = removing.map(({ key, base }) => ({ key, base, handing: { snapshot: undefined, revision: 0, on: base } as Base }));
      for (const { key, handing } of handings) this.uncommitted.set(key, handing);
      try {
        await this.options.store.commit(handings.flatMap(({ key, base }) => {
          const writes: Write[] = [{ collection: INSTANCES, key, value: null, expect: base.revision }];
          new HistoryWrites(key).remove(base.snapshot!).addTo(writes);
          return writes;
        }));
      } catch (error) {
        for (const { key, handing } of handings) {
          handing.refused = true;
          if (this.uncommitted.get(key) === handing) this.uncommitted.delete(key);
        }
        if (!(error instanceof WriteConflict) || attempt === 2) throw error;
        const changed = new Set(error.keys.map(({ key }) => key));
        removing = removing.filter(({ key }) => !changed.has(key));
        continue;
      }
      for (const { key, handing } of handings) {
        handing.on = undefined;
        if (this.uncommitted.get(key) === handing) this.uncommitted.delete(key);
      }
      for (const { key, base } of handings) this.options.committed(key, base.snapshot, undefined, [], []);
      return { removed: handings.map(({ base }) => base.snapshot!), busy: left };
    }
    return { removed: [], busy: left };
  }

  /** A removal or restart, both only of a finished instance; a removal's outcome holds what it removed. */
  private finishedWork(current: Snapshot, item: Work & { kind: 'remove' | 'restart' }, now: number): Done {
    if (item.kind === 'restart') return { outcome: restartSnapshot(item.chart, current, now, item.restart), created: false };
    if (!isFinished(current)) {
      return { error: new Conflict(`instance ${current.id} of chart ${current.chart} is active in ${current.state}; cancel it first (POST /charts/${current.chart}/instances/${current.id}/cancel), then delete it`, 'instance_active') };
    }
    return { outcome: { snapshot: current, effects: [], recorded: [], accepted: true, unchanged: false }, created: false };
  }

  /** The newest change of the instance handed to the store and not refused, if any is on its way. */
  private handed(key: string): Base | undefined {
    const handed = this.uncommitted.get(key);
    return handed && !handed.refused ? handed : undefined;
  }

  private stored(key: string): Promise<Base> {
    return (this.reads ? this.reads.get(key) : this.options.store.get<Snapshot>(INSTANCES, key)).then((stored) => ({ snapshot: stored?.value, revision: stored?.revision ?? 0 }));
  }
}

/** The claim a batch's commit is fenced by: that of its first input carrying out an effect, and the inputs holding it. */
function fencedItems(items: readonly Work[], refused: ReadonlyMap<Work, WriteConflict>): { fence: Fence | undefined; items: Work[] } {
  const first = items.find((item) => item.kind === 'input' && item.fence && !refused.has(item));
  const fence = first?.kind === 'input' ? first.fence : undefined;
  return { fence, items: fence ? items.filter((item) => item.kind === 'input' && item.fence === fence) : [] };
}

/** Adds what `outcome` recorded to the batch's history writes, made on its first transition. */
function recordHistory(history: HistoryWrites | undefined, key: string, outcome: Outcome): HistoryWrites | undefined {
  if (!outcome.recorded.length) return history;
  history ??= new HistoryWrites(key);
  history.record(outcome.recorded, outcome.snapshot.transitions);
  return history;
}

/** Whether `change` is `base` or was built on it, directly or through changes still uncommitted. */
function builtOn(change: Base, base: Base): boolean {
  for (let at: Base | undefined = change; at; at = at.on) if (at === base) return true;
  return false;
}

/** The answer to an input for an instance that does not exist, as Runtime.snapshot words it. */
export function noInstance(key: string): NotFound {
  const [chart, id] = splitKey(key);
  return new NotFound(`chart ${chart} has no instance ${id}; POST /charts/${chart}/instances creates one`);
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}
