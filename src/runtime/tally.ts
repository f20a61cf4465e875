// Instance counts by chart, state and status, and the instances that need a look, kept current from every commit.

import type { Failure, Snapshot, Status } from '../engine/snapshot.js';

/** A deadline is applied the moment it comes due; one this far past means the instance is stuck (e.g. the store refuses writes). */
export const OVERDUE_AFTER_MS = 5000;
/** How long a failure keeps an instance on the list of those needing a look. */
export const RECENT_FAILURE_MS = 24 * 60 * 60 * 1000;

export type StatusCounts = Readonly<Record<Status, number>>;

export interface Counts extends StatusCounts {
  readonly total: number;
  /** Per state name (of any version the chart's instances run on). */
  readonly byState: Readonly<Record<string, StatusCounts>>;
}

export type AttentionReason = 'overdue' | 'retrying' | 'failed';

export interface Attention {
  readonly chart: string;
  readonly id: string;
  readonly state: string;
  readonly status: Snapshot['status'];
  readonly reason: AttentionReason;
  /** When it began: the deadline it is past, the last change of the retrying step, or the failure. */
  readonly since: string;
  readonly attempt?: number;
  readonly deadline?: Snapshot['deadline'];
  readonly failure?: Failure;
}

type StateCounts = Map<string, Record<Status, number>>;

const SEVERITY: Record<AttentionReason, number> = { overdue: 0, retrying: 1, failed: 2 };

export class InstanceTally {
  private readonly charts = new Map<string, StateCounts>();
  /** Instances that may need a look: active with a deadline or a retried step, or with a failure on record. */
  private readonly watched = new Map<string, Snapshot>();
  /** Per instance, what is counted of it: kept only when `set` is used, as its caller cannot tell what was counted before. */
  private readonly counted: Map<string, Counted> | undefined;

  constructor(private readonly now: () => number, keyed = false) {
    this.counted = keyed ? new Map() : undefined;
  }

  /** Starts over from every stored instance. */
  reset(snapshots: Iterable<Snapshot>): void {
    this.charts.clear();
    this.watched.clear();
    this.counted?.clear();
    for (const snapshot of snapshots) this.add(snapshot);
  }

  /** The instance `key` is now `snapshot` (undefined: removed), whatever was counted of it before (a keyed tally only). */
  set(key: string, snapshot: Snapshot | undefined): void {
    const before = this.counted!.get(key);
    if (before) this.remove(before);
    if (snapshot) this.add(snapshot);
  }

  /** One committed change: `before` is what was counted for the instance (undefined for a creation, `after` for a removal). */
  note(before: Snapshot | undefined, after: Snapshot | undefined): void {
    if (before) this.remove(before);
    if (after) this.add(after);
  }

  /** Every chart with instances counted, sorted. */
  chartNames(): string[] {
    return [...this.charts.keys()].filter((chart) => this.counts(chart).total > 0).sort();
  }

  counts(chart: string): Counts {
    const byState: Record<string, StatusCounts> = {};
    const totals = { active: 0, done: 0, cancelled: 0 };
    for (const [state, count] of this.charts.get(chart) ?? []) {
      if (count.active === 0 && count.done === 0 && count.cancelled === 0) continue;
      byState[state] = { ...count };
      totals.active += count.active;
      totals.done += count.done;
      totals.cancelled += count.cancelled;
    }
    return { total: totals.active + totals.done + totals.cancelled, ...totals, byState };
  }

  /** Every non-zero count, by chart, state and status (for metrics, read at each scrape). */
  forEachCount(visit: (chart: string, state: string, status: Snapshot['status'], count: number) => void): void {
    for (const [chart, states] of this.charts) {
      for (const [state, count] of states) {
        for (const status of Object.keys(count) as Snapshot['status'][]) if (count[status] > 0) visit(chart, state, status, count[status]);
      }
    }
  }

  /** Up to `limit` instances needing a look, the most pressing first, and how many there are of each reason. */
  attention(limit: number, chart?: string): { instances: Attention[]; totals: Record<AttentionReason, number> } {
    const now = this.now();
    const found: Attention[] = [];
    for (const snapshot of this.watched.values()) {
      if (chart !== undefined && snapshot.chart !== chart) continue;
      const entry = attentionOf(snapshot, now);
      if (entry) found.push(entry);
    }
    const totals: Record<AttentionReason, number> = { overdue: 0, retrying: 0, failed: 0 };
    for (const entry of found) totals[entry.reason] += 1;
    found.sort((a, b) => SEVERITY[a.reason] - SEVERITY[b.reason] || b.since.localeCompare(a.since) || a.id.localeCompare(b.id));
    return { instances: found.slice(0, limit), totals };
  }

  private add(snapshot: Snapshot): void {
    this.counted?.set(keyOf(snapshot), { chart: snapshot.chart, id: snapshot.id, state: snapshot.state, status: snapshot.status });
    let states = this.charts.get(snapshot.chart);
    if (!states) this.charts.set(snapshot.chart, (states = new Map()));
    let count = states.get(snapshot.state);
    if (!count) states.set(snapshot.state, (count = { active: 0, done: 0, cancelled: 0 }));
    count[snapshot.status] += 1;
    if (mayNeedLook(snapshot)) this.watched.set(keyOf(snapshot), snapshot);
  }

  private remove(snapshot: Counted): void {
    const count = this.charts.get(snapshot.chart)?.get(snapshot.state);
    if (count) count[snapshot.status] -= 1;
    this.watched.delete(keyOf(snapshot));
    this.counted?.delete(keyOf(snapshot));
  }
}

/** What the tally counts of an instance. */
type Counted = Pick<Snapshot, 'chart' | 'id' | 'state' | 'status'>;

function keyOf(snapshot: Counted): string {
  return `${snapshot.chart}/${snapshot.id}`;
}

function mayNeedLook(snapshot: Snapshot): boolean {
  return (snapshot.status === 'active' && (snapshot.deadline !== null || snapshot.attempt > 1)) || snapshot.failures.length > 0;
}

function attentionOf(snapshot: Snapshot, now: number): Attention | undefined {
  const { chart, id, state, status, deadline, attempt } = snapshot;
  const base = { chart, id, state, status };
  if (status === 'active' && deadline && deadline.at + OVERDUE_AFTER_MS < now) {
    return { ...base, reason: 'overdue', since: new Date(deadline.at).toISOString(), deadline };
  }
  if (status === 'active' && (deadline?.kind === 'retry' || attempt > 1)) {
    return { ...base, reason: 'retrying', since: snapshot.updatedAt, attempt, ...(deadline ? { deadline } : {}) };
  }
  const failure = snapshot.failures.at(-1);
  if (failure && Date.parse(failure.at) + RECENT_FAILURE_MS > now) return { ...base, reason: 'failed', since: failure.at, failure };
  return undefined;
}
