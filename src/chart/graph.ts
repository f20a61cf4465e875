// Graph checks shared by both dialects: targets exist, the initial state exists, every state is reachable, one is final.

import { edgesOf, type JsonSchema, type StateDef } from './model.js';
import { listNames, type ProblemLog } from './problem.js';

/** A place in the file that names a state to move to. */
export interface TargetRef {
  readonly target: string;
  readonly path: string;
}

/** What a dialect compiles a file into before the graph checks; load.ts turns it into a Chart. */
export interface ChartDraft {
  readonly name: string;
  readonly description?: string;
  readonly initial?: string;
  readonly initialPath: string;
  readonly states: Record<string, StateDef>;
  /** YAML path of every state name declared, in file order, including states that failed to compile. */
  readonly statePaths: Record<string, string>;
  readonly refs: TargetRef[];
  readonly context?: JsonSchema;
  readonly settings?: JsonSchema;
  readonly failurePrefix?: string;
  readonly owner?: string;
  /** How this dialect marks a final state, for the "no final state" message. */
  readonly finalHint: string;
  /** What a state the initial state cannot reach is: a mistake (chartd), or a state a saved machine has passed (StateService). */
  readonly unreachable: 'problem' | 'note';
}

export function checkGraph(draft: ChartDraft, log: ProblemLog): void {
  const known = Object.keys(draft.statePaths);
  if (known.length === 0) return; // the shape check has already said there are no states
  const knownList = listNames(known);
  for (const ref of draft.refs) {
    if (!Object.hasOwn(draft.statePaths, ref.target)) log.add(ref.path, `unknown target state '${ref.target}' (known: ${knownList})`);
  }
  const initialKnown = draft.initial !== undefined && Object.hasOwn(draft.statePaths, draft.initial);
  if (draft.initial !== undefined && !initialKnown) {
    log.add(draft.initialPath, `initial state '${draft.initial}' is not defined (known: ${knownList})`);
  }
  // A state that failed to compile has no edges; judging reachability or finality now would only add noise.
  const complete = known.every((name) => Object.hasOwn(draft.states, name));
  if (!complete) return;
  if (!Object.values(draft.states).some((state) => state.kind === 'final')) {
    log.add('states', `the chart has no final state; ${draft.finalHint}`);
  }
  if (!initialKnown || draft.initial === undefined) return;
  const reached = reachableFrom(draft.initial, draft.states);
  for (const name of known) {
    if (reached.has(name)) continue;
    const path = draft.statePaths[name] ?? 'states';
    if (draft.unreachable === 'problem') log.add(path, `state '${name}' is unreachable from the initial state '${draft.initial}'`);
    else log.notice('note', path, `state '${name}' cannot be reached from the current state '${draft.initial}', so nothing moves into it (a file StateService has saved progress into lists the states its machine has passed); it is kept as it is`);
  }
}

/** Every state `initial` leads to, itself included; names without a definition are skipped. */
export function reachableFrom(initial: string, states: Readonly<Record<string, StateDef>>): Set<string> {
  const reached = new Set([initial]);
  const queue = [initial];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const state = Object.hasOwn(states, name) ? states[name] : undefined;
    if (!state) continue;
    for (const edge of edgesOf(state)) {
      if (!reached.has(edge.to)) {
        reached.add(edge.to);
        queue.push(edge.to);
      }
    }
  }
  return reached;
}
