// What the engine asks the runtime to do, as data; the runtime carries it out after committing.

import type { Failure, Snapshot } from './snapshot.js';

export type Effect =
  /** Run the handler of step `state`, attempt `attempt`. */
  | { readonly type: 'runStep'; readonly state: string; readonly attempt: number }
  /** Wake the instance at `at` (epoch ms) with a `deadline` input. */
  | { readonly type: 'armTimer'; readonly at: number }
  /** An unhappy move happened: tell a human. */
  | { readonly type: 'alert'; readonly failure: Failure };

/** The effects a committed snapshot still waits on: its step's attempt, or its deadline (a retry wait is one). */
export type Owed = Extract<Effect, { type: 'runStep' | 'armTimer' }>;

/**
 * What the runStep and armTimer effects that led to `snapshot` still ask for: nothing once it left them. A step
 * runs while the instance is active in it with no deadline (a retry wait is a deadline); attempt 0 is no step.
 */
export function owedEffects(snapshot: Pick<Snapshot, 'state' | 'status' | 'deadline' | 'attempt'>): Owed[] {
  if (snapshot.deadline) return [{ type: 'armTimer', at: snapshot.deadline.at }];
  if (snapshot.status === 'active' && snapshot.attempt > 0) return [{ type: 'runStep', state: snapshot.state, attempt: snapshot.attempt }];
  return [];
}
