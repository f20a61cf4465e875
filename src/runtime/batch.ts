// One batch of one instance's work: every input, creation, restart and removal applied in order on the engine, committed once.

import type { Chart } from '../chart/model.js';
import { isFinished, type Context, type Snapshot } from '../engine/snapshot.js';
import { createSnapshot, restartSnapshot, transition, type Input, type Origin, type Outcome, type Restart } from '../engine/transition.js';
import { Conflict, NotFound } from '../errors.js';
import type { Store, Write } from '../store/store.js';
import { failureReports, type Alerter, type FailureReport } from './alerts.js';
import type { Clock } from './clock.js';
import { HistoryWrites } from './history.js';
import type { InstanceQuota } from './quota.js';

export const INSTANCES = 'instances';

export type Work =
  | { readonly kind: 'input'; readonly input: Input }
  | { readonly kind: 'create'; readonly context: Context; readonly origin: Origin }
  | { readonly kind: 'restart'; readonly chart: Chart; readonly restart: Restart }
  | { readonly kind: 'remove' };
export type Done = { readonly outcome: Outcome; readonly created: boolean } | { readonly error: Error };

export interface BatchOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly alerter: Alerter;
  readonly quota: InstanceQuota;
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
   * Per instance, the newest snapshot handed to the store and not yet committed (undefined: its removal), with the
   * store's failure count at that moment: the next batch builds on it unless a commit has failed since.
   */
  private readonly uncommitted = new Map<string, { readonly snapshot: Snapshot | undefined; readonly failures: number }>();

  constructor(private readonly options: BatchOptions) {}

  /**
   * One batch for one instance: apply every item in order, commit once, then answer each. It builds on the
   * previous batch's snapshot even while that is still on its way to disk: the store answers in order, and
   * fails this commit too if that one fails.
   */
  async process(key: string, items: readonly Work[]): Promise<Done[]> {
    const { store, clock } = this.options;
    const before = this.buildingOn(key);
    let current = before;
    const done: Done[] = [];
    const outcomes: Outcome[] = [];
    const history = new HistoryWrites(key);
    const took = (outcome: Outcome): void => {
      outcomes.push(outcome);
      history.record(outcome.recorded, outcome.snapshot.transitions);
    };
    /** The chart of the instance this batch creates, whose quota place is given back if the commit fails. */
    let creating: string | undefined;
    const now = clock.now();
    for (const item of items) {
      if (item.kind === 'remove' || item.kind === 'restart') {
        const result = current ? this.finishedWork(current, item, now) : { error: new NotFound(`instance ${key} does not exist`) };
        if ('outcome' in result && result.outcome.accepted) {
          if (item.kind === 'remove') history.remove(current!);
          took(result.outcome);
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
        const refused = this.options.quota.take(chartName);
        if (refused) {
          done.push({ error: refused });
          continue;
        }
        creating = chartName;
        const outcome = createSnapshot(this.options.chart(chartName), id, item.context, now, item.origin);
        current = outcome.snapshot;
        took(outcome);
        done.push({ outcome, created: true });
        continue;
      }
      if (!current) {
        done.push({ error: new NotFound(`instance ${key} does not exist`) });
        continue;
      }
      const outcome = transition(this.options.chartOf(current), current, item.input, now);
      if (outcome.accepted && !outcome.unchanged) {
        current = outcome.snapshot;
        took(outcome);
      }
      done.push({ outcome, created: false });
    }
    if (current !== before) {
      const handed = { snapshot: current, failures: store.failures };
      this.uncommitted.set(key, handed);
      const reports = current ? failureReports(key, current, outcomes, () => this.options.failurePrefix(current)) : [];
      try {
        // Snapshots are plain JSON data, built anew by every transition and never changed; so are history entries and alert records.
        const writes: Write[] = [{ collection: INSTANCES, key, value: current ?? null }, ...history.writes()];
        if (reports.length) writes.push(...this.options.alerter.record(reports, now));
        await store.commit(writes, { asGiven: true });
      } catch (error) {
        if (creating) this.options.quota.giveBack(creating);
        throw error;
      } finally {
        if (this.uncommitted.get(key) === handed) this.uncommitted.delete(key);
      }
      this.options.committed(key, before, current, outcomes, reports);
    }
    return done;
  }

  /** A removal or restart, both only of a finished instance; a removal's outcome holds what it removed. */
  private finishedWork(current: Snapshot, item: Work & { kind: 'remove' | 'restart' }, now: number): Done {
    if (item.kind === 'restart') return { outcome: restartSnapshot(item.chart, current, now, item.restart), created: false };
    if (!isFinished(current)) {
      return { error: new Conflict(`instance ${current.id} of chart ${current.chart} is active in ${current.state}; cancel it first (POST /charts/${current.chart}/instances/${current.id}/cancel), then delete it`, 'instance_active') };
    }
    return { outcome: { snapshot: current, effects: [], recorded: [], accepted: true, unchanged: false }, created: false };
  }

  /**
   * What the next batch of `key` builds on: the snapshot still on its way to disk, or the committed one once a
   * commit has failed (the store fails every commit pending at that moment, so that snapshot will never land).
   */
  private buildingOn(key: string): Snapshot | undefined {
    const pending = this.uncommitted.get(key);
    if (pending !== undefined && pending.failures === this.options.store.failures) return pending.snapshot;
    return this.options.store.get<Snapshot>(INSTANCES, key);
  }

}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}
