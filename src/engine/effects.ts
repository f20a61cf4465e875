// What the engine asks the runtime to do, as data; the runtime carries it out after committing.

import type { Failure } from './snapshot.js';

export type Effect =
  /** Run the handler of step `state`, attempt `attempt`. */
  | { readonly type: 'runStep'; readonly state: string; readonly attempt: number }
  /** Wake the instance at `at` (epoch ms) with a `deadline` input. */
  | { readonly type: 'armTimer'; readonly at: number }
  /** An unhappy move happened: tell a human. */
  | { readonly type: 'alert'; readonly failure: Failure };
