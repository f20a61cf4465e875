// One instance of a chart on the pure engine with a simulated clock: the runtime's rules, no store, no timers, no handlers run.

import type { Chart, StepState } from '../chart/model.js';
import { renderValue } from '../chart/template.js';
import { templateScope, type Context, type Snapshot } from '../engine/snapshot.js';
import { createSnapshot, transition, type Input, type Outcome } from '../engine/transition.js';
import { FinalFailure, type HandlerLookup } from '../handlers/handler.js';
import { formatFailure } from '../runtime/alerts.js';
import { confinePaths } from '../runtime/pathRoots.js';
import { timedOut } from '../runtime/steps.js';

export interface SimulationStart {
  readonly id: string;
  /** The context and settings as checked and filled in (InputChecker), as the runtime would store them. */
  readonly context: Context;
  readonly settings?: Context;
  /** The simulated clock's start, epoch ms. */
  readonly at: number;
}

/** One transition taken, as `chartd simulate` prints it and chart tests match `path:` against. */
export interface Move {
  readonly at: number;
  readonly from: string | null;
  readonly to: string;
  readonly cause: string;
  readonly caller?: string;
  readonly error?: string;
}

/** The attempt of a step whose handler would be running now, with its arguments as they would be resolved. */
export interface RunningStep {
  readonly state: string;
  readonly attempt: number;
  readonly run: string;
  readonly args: Record<string, unknown>;
  readonly startedAt: number;
}

/** What a PUT or an event gets: the HTTP status the server would answer, and why it refused. */
export interface Answer {
  readonly status: 200 | 400 | 406;
  readonly reason?: string;
}

/** A request the simulation cannot carry out as asked (e.g. finishing a step that is not running); the message says why. */
export class SimulationError extends Error {}

export class Simulation {
  readonly moves: Move[] = [];
  /** Every alert raised, as the server logs it: `Failure: <prefix> <node>: <message>`. */
  readonly alerts: string[] = [];
  private current: Snapshot;
  private clock: number;
  private step: RunningStep | undefined;

  constructor(
    readonly chart: Chart,
    private readonly handlers: HandlerLookup,
    start: SimulationStart,
  ) {
    this.clock = start.at;
    const outcome = createSnapshot(chart, start.id, start.context, start.at, start.settings ? { settings: start.settings } : {});
    this.current = outcome.snapshot;
    this.follow(outcome);
  }

  get snapshot(): Snapshot {
    return this.current;
  }

  get now(): number {
    return this.clock;
  }

  get running(): RunningStep | undefined {
    return this.step;
  }

  /** The step state the instance is in, when it is waiting out a retry delay: when its next attempt starts. */
  get retryAt(): number | undefined {
    return this.current.deadline?.kind === 'retry' ? this.current.deadline.at : undefined;
  }

  put(state: string, by?: string): Answer {
    return this.answer({ type: 'put', state, ...(by !== undefined ? { by } : {}) });
  }

  event(event: string, by?: string, state?: string): Answer {
    return this.answer({ type: 'event', event, ...(by !== undefined ? { by } : {}), ...(state !== undefined ? { state } : {}) });
  }

  /** Moves the clock on by `ms`, firing every deadline and step timeout that falls due on the way, in order. */
  advance(ms: number): void {
    if (ms < 0) throw new Error(`a simulated clock does not go back (advance by ${ms} ms)`);
    const until = this.clock + ms;
    for (let due = this.nextDue; due !== undefined && due <= until; due = this.nextDue) {
      this.clock = Math.max(this.clock, due);
      const before = this.current;
      this.fireDue();
      // The engine ignores a deadline only when it is stale, which a simulation never sends: stop rather than spin.
      if (this.current === before) throw new Error(`the engine did not move ${before.id} at its deadline ${iso(due)}`);
    }
    this.clock = until;
  }

  /** The running attempt of step `state` ends: success without `error`; a `final` failure skips the retries left. */
  finishStep(state: string, outcome: { readonly error?: string; readonly final?: boolean } = {}): void {
    const retryAt = this.retryAt;
    // Its next attempt has not started yet: the clock moves to it, as the step would wait in a real run.
    if (retryAt !== undefined && this.current.state === state) this.advance(retryAt - this.clock);
    const step = this.step;
    if (!step || step.state !== state) throw new SimulationError(`step ${state} is not running: ${this.whereNow()}`);
    this.apply({ type: 'stepDone', state, attempt: step.attempt, ...outcome });
  }

  /** "the instance is in drain (a gate, 1 of 3 counted)", for messages. */
  whereNow(): string {
    return `the instance is in ${this.current.state} (${this.describeState()})`;
  }

  private describeState(): string {
    const def = this.chart.states[this.current.state]!;
    switch (def.kind) {
      case 'final':
        return 'final';
      case 'gate':
        return `a gate, ${this.current.counter - def.start} of ${def.count - def.start} counted`;
      case 'timer':
        return `a timer firing at ${iso(this.current.deadline?.at ?? this.clock)}`;
      case 'step':
        return this.step ? `a step running ${this.step.run}, attempt ${this.step.attempt}` : `a step waiting until ${iso(this.retryAt ?? this.clock)} to retry`;
      case 'event':
        return `waiting for ${Object.keys(def.on).join(' or ')}`;
    }
  }

  private answer(input: Input): Answer {
    const outcome = this.apply(input);
    if (outcome.accepted) return { status: 200 };
    return { status: outcome.code === 'caller_required' ? 400 : 406, reason: outcome.reason ?? 'refused' };
  }

  private apply(input: Input): Outcome {
    const outcome = transition(this.chart, this.current, input, this.clock);
    if (outcome.accepted && !outcome.unchanged) {
      this.current = outcome.snapshot;
      this.follow(outcome);
    }
    return outcome;
  }

  /** Carries out the effects as the runtime does after a commit: record moves, raise alerts, start steps, fire what is overdue. */
  private follow(outcome: Outcome): void {
    for (const entry of outcome.recorded) {
      this.moves.push({ at: Date.parse(entry.at), from: entry.from, to: entry.to, cause: entry.cause, ...(entry.caller ? { caller: entry.caller } : {}), ...(entry.error ? { error: entry.error } : {}) });
    }
    for (const effect of outcome.effects) {
      if (effect.type === 'alert') this.alerts.push(formatFailure({ prefix: this.failurePrefix(), node: effect.failure.node, error: effect.failure.error }));
    }
    const run = outcome.effects.find((effect) => effect.type === 'runStep');
    this.step = undefined;
    if (run) this.startStep(this.chart.states[run.state] as StepState, run.attempt);
    // A deadline already past (a timer `at:` before the simulated start) fires at once, as the runtime's timers do.
    if (this.current.deadline && this.current.deadline.at <= this.clock) this.fireDue();
  }

  /** A step's arguments resolve as the runtime resolves them; a template or path that fails fails the attempt the same way. */
  private startStep(def: StepState, attempt: number): void {
    const handler = this.handlers.get(def.run);
    const scope = templateScope(this.current);
    try {
      const rendered = renderValue(def.with, scope) as Record<string, unknown>;
      const args = handler ? confinePaths(handler, def.with, rendered, scope) : rendered;
      this.step = { state: def.name, attempt, run: def.run, args, startedAt: this.clock };
    } catch (error) {
      this.apply({ type: 'stepDone', state: def.name, attempt, error: (error as Error).message, ...(error instanceof FinalFailure ? { final: true } : {}) });
    }
  }

  /** When the next deadline or step timeout falls due; undefined when nothing is waiting on the clock. */
  get nextDue(): number | undefined {
    const deadline = this.current.deadline?.at;
    const step = this.step;
    const timeout = step ? step.startedAt + (this.chart.states[step.state] as StepState).timeoutMs : undefined;
    if (deadline === undefined) return timeout;
    return timeout === undefined ? deadline : Math.min(deadline, timeout);
  }

  private fireDue(): void {
    const step = this.step;
    if (step) {
      const def = this.chart.states[step.state] as StepState;
      if (step.startedAt + def.timeoutMs <= this.clock) this.apply({ type: 'stepDone', state: step.state, attempt: step.attempt, error: timedOut(def) });
      return;
    }
    const deadline = this.current.deadline;
    if (deadline && deadline.at <= this.clock) this.apply({ type: 'deadline', at: deadline.at });
  }

  private failurePrefix(): string {
    const template = this.chart.failurePrefix;
    if (!template) return '';
    try {
      return String(renderValue(template, templateScope(this.current)));
    } catch {
      return template;
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
