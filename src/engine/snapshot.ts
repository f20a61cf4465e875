// The state of one instance of a chart: plain JSON, stored exactly as it is.

import type { TemplateScope } from '../chart/template.js';

export type Context = Record<string, unknown>;

/** A stored deadline; `kind` says what happens when it comes due. */
export interface Deadline {
  readonly at: number;
  readonly kind: 'timer' | 'timeout' | 'retry';
}

export interface Transition {
  readonly revision: number;
  readonly at: string;
  readonly from: string | null;
  readonly to: string;
  /** put | event:NAME | timer | timeout | success | failure | interrupt | cancel | restart | create */
  readonly cause: string;
  readonly caller?: string;
  /** The bearer token (its name in the auth file) that sent the PUT, event or creation. */
  readonly token?: string;
  readonly error?: string;
  /** Callers a distinct gate had counted when this transition opened it. */
  readonly callers?: readonly string[];
  /** Why a client cancelled or restarted the instance, as it said. */
  readonly reason?: string;
  /** Set when this transition ended the instance cancelled: a final state alone would read as done. */
  readonly status?: 'cancelled';
}

export interface Interrupt {
  /** What stopped it, as failure reports say it: "interrupted by SIGINT". */
  readonly reason: string;
  readonly at: string;
}

/** A client asked the instance to stop: it runs its chart's cleanup steps, if any, then ends `cancelled`. */
export interface Cancellation {
  readonly reason: string;
  readonly at: string;
  readonly by?: string;
  /** The bearer token (its name) that asked. */
  readonly token?: string;
}

/** active: moving or waiting; done: in a final state; cancelled: stopped by a client (see Cancellation). */
export type Status = 'active' | 'done' | 'cancelled';

export interface Failure {
  readonly node: string;
  readonly error: string;
  readonly at: string;
}

export interface Snapshot {
  readonly chart: string;
  /** Version of the chart this instance runs on; it never changes after creation. */
  readonly version: string;
  readonly id: string;
  readonly state: string;
  readonly status: Status;
  readonly context: Context;
  /**
   * The operator's values for the chart's settings, frozen at creation like the context, so a cleanup step after
   * a restart uses the paths the run created. Absent for charts without settings (and instances stored before them).
   */
  readonly settings?: Context;
  /** Gate counter of the current state. */
  readonly counter: number;
  /** Callers counted by the current gate (distinct gates) or seen by it. */
  readonly callers: readonly string[];
  readonly deadline: Deadline | null;
  /** Attempt number of the current step (1-based); 0 outside step states. */
  readonly attempt: number;
  /** Why the current step's last attempt failed, while it waits to try again. */
  readonly lastError?: string;
  /** Set once the instance was told to stop (a signal, a run's --timeout, a zone stopping); it then only cleans up. */
  readonly interrupted?: Interrupt;
  /** Set once a client cancelled it; it then only cleans up, and ends `cancelled`. */
  readonly cancelled?: Cancellation;
  /** Moves by one on every accepted change. */
  readonly revision: number;
  readonly enteredAt: string;
  /** When this run began: the creation, or the last restart ({{instance.created}} names per-run paths). */
  readonly createdAt: string;
  readonly updatedAt: string;
  /** How many transitions the instance has recorded: the sequence number of the newest in its history (kept apart). */
  readonly transitions: number;
  /**
   * Per distinct gate left in this run, the callers it had counted when it closed, so a check-in retried after it
   * closed is answered as counted. Absent while there is none.
   */
  readonly closedGates?: Readonly<Record<string, readonly string[]>>;
  /** Unhappy moves, capped at FAILURE_LIMIT. */
  readonly failures: readonly Failure[];
}

/** Transitions kept in an instance's history, the newest; older ones are dropped as new ones come. */
export const HISTORY_LIMIT = 50;

/** Whether the instance will never move again unless restarted: done or cancelled. */
export function isFinished(snapshot: Pick<Snapshot, 'status'>): boolean {
  return snapshot.status !== 'active';
}
export const FAILURE_LIMIT = 50;

/** What the instance's templates read: its context, its settings and the built-ins. */
export function templateScope(snapshot: Snapshot): TemplateScope {
  return { context: snapshot.context, settings: snapshot.settings ?? {}, instance: { id: snapshot.id, created: snapshot.createdAt } };
}
