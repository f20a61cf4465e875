// The Chart model that both YAML dialects compile to; the engine sees only this.


export type Dialect = 'stateservice' | 'chartd';

/** A JSON Schema object, checked by ajv. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export interface Chart {
  readonly name: string;
  /** Content hash of the chart file (sha256, first 16 hex digits). */
  readonly version: string;
  readonly dialect: Dialect;
  readonly description?: string;
  readonly initial: string;
  readonly states: Readonly<Record<string, StateDef>>;
  /** JSON Schema of an instance's context; absent = any object. */
  readonly context?: JsonSchema;
  /** JSON Schema of the operator's values the steps need (hosts, roots, variable names); never from a client. */
  readonly settings?: JsonSchema;
  /** Template prepended to every failure report, e.g. "{{client}} {{database}}". */
  readonly failurePrefix?: string;
  /** The built-in service that drives this chart's instances; the generic HTTP routes may not create or move them. */
  readonly owner?: string;
  /** Prediction models for POST /state, by name (see chart/models.ts). */
  readonly models?: Readonly<Record<string, ModelRef>>;
  /** Path the chart was loaded from (or the archive copy of an old version). */
  readonly file: string;
  /** The YAML text exactly as loaded, kept so old versions can be archived and reloaded. */
  readonly source: string;
}

/** A model file a chart names: the path as written (relative to the chart file) and the line naming it. */
export interface ModelRef {
  readonly file: string;
  readonly line: number;
}

export type StateDef = FinalState | GateState | TimerState | StepState | EventState;
export type StateKind = StateDef['kind'];

interface StateBase {
  readonly name: string;
  readonly description?: string;
  /** 1-based line of the state's definition in the chart file. */
  readonly line: number;
}

/** A bound on how long a waiting state (gate or event) may wait. */
export interface Timeout {
  readonly afterMs: number;
  readonly next: string;
}

export interface FinalState extends StateBase {
  readonly kind: 'final';
}

/** Moves to `next` once `count` PUTs have been counted (StateService's `func: increment`). */
export interface GateState extends StateBase {
  readonly kind: 'gate';
  /** Counter value on entry (StateService `current.value`; 0 in the chartd dialect). */
  readonly start: number;
  /** Counter value at which the gate opens (StateService `target.when.value`). */
  readonly count: number;
  /** Count each caller (`by=`) once. */
  readonly distinct: boolean;
  /** StateService's counter key name, kept for display only. */
  readonly counterKey: string;
  readonly next: string;
  /** Events that leave the gate early, e.g. `{ failed: rollback }`. */
  readonly on?: Readonly<Record<string, string>>;
  readonly timeout?: Timeout;
}

/** Moves to `next` at an absolute time or a duration after entry. Exactly one of atMs/afterMs is set. */
export interface TimerState extends StateBase {
  readonly kind: 'timer';
  readonly atMs?: number;
  readonly afterMs?: number;
  readonly next: string;
}

export interface RetryPolicy {
  /** Total attempts including the first; 1 = no retry. */
  readonly attempts: number;
  readonly delayMs: number;
  readonly backoff: number;
  readonly maxDelayMs: number;
}

/** Runs a registered handler on entry; its outcome picks the happy or unhappy path. */
export interface StepState extends StateBase {
  readonly kind: 'step';
  readonly run: string;
  /** Handler arguments; strings may hold {{key}} templates resolved from the context. */
  readonly with: Readonly<Record<string, unknown>>;
  readonly onSuccess: string;
  readonly onFailure: string;
  readonly retry: RetryPolicy;
  /** Bound on one attempt of the handler. */
  readonly timeoutMs: number;
}

/** Waits for named events from outside. */
export interface EventState extends StateBase {
  readonly kind: 'event';
  readonly on: Readonly<Record<string, string>>;
  readonly timeout?: Timeout;
}

export type EdgeKind = 'happy' | 'unhappy' | 'timeout' | 'event';

export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  /** What takes the edge: "count 3", "after 10m", "passed", "success", "failure". */
  readonly label: string;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 1, delayMs: 1000, backoff: 2, maxDelayMs: 60_000 };
export const DEFAULT_STEP_TIMEOUT_MS = 60 * 60 * 1000;

/** Every outgoing edge of a state, for graph checks and diagrams. */
export function edgesOf(state: StateDef): Edge[] {
  const from = state.name;
  const edges: Edge[] = [];
  switch (state.kind) {
    case 'final':
      break;
    case 'gate':
      edges.push({ from, to: state.next, kind: 'happy', label: gateLabel(state) });
      for (const [event, to] of Object.entries(state.on ?? {})) edges.push({ from, to, kind: 'event', label: event });
      break;
    case 'timer':
      edges.push({ from, to: state.next, kind: 'happy', label: state.atMs !== undefined ? `at ${new Date(state.atMs).toISOString()}` : `after ${formatDuration(state.afterMs ?? 0)}` });
      break;
    case 'step':
      edges.push({ from, to: state.onSuccess, kind: 'happy', label: 'success' });
      edges.push({ from, to: state.onFailure, kind: 'unhappy', label: 'failure' });
      break;
    case 'event':
      for (const [event, to] of Object.entries(state.on)) edges.push({ from, to, kind: 'event', label: event });
      break;
  }
  if ((state.kind === 'gate' || state.kind === 'event') && state.timeout) {
    edges.push({ from, to: state.timeout.next, kind: 'timeout', label: `timeout ${formatDuration(state.timeout.afterMs)}` });
  }
  return edges;
}

function gateLabel(state: GateState): string {
  const needed = state.count - state.start;
  return state.distinct ? `${needed} distinct` : `count ${needed}`;
}

/** 90000 -> "1m30s"; used in labels and messages. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let rest = ms;
  let out = '';
  for (const [unit, size] of units) {
    const amount = Math.floor(rest / size);
    if (amount > 0) {
      out += `${amount}${unit}`;
      rest -= amount * size;
    }
  }
  return out;
}

/**
 * A cleanup step goes on to the same state whatever its outcome (backup-and-encrypt's remove_* nodes): an interrupt lets it
 * finish, since cutting it short would leave behind what it was removing.
 */
export function isCleanup(step: StepState): boolean {
  return step.onSuccess === step.onFailure;
}

export function isWaiting(state: StateDef): state is GateState | EventState {
  return state.kind === 'gate' || state.kind === 'event';
}
