// Runs step handlers: resolves templates, bounds each attempt by its timeout, one attempt of an instance at a time.

import type { Logger } from 'pino';
import type { Chart, StepState } from '../chart/model.js';
import { renderValue } from '../chart/template.js';
import { templateScope, type Snapshot } from '../engine/snapshot.js';
import { FinalFailure, type HandlerLookup } from '../handlers/handler.js';
import type { Environment } from './environment.js';
import { confinePaths } from './pathRoots.js';

export interface StepResult {
  readonly state: string;
  readonly attempt: number;
  readonly error?: string;
  readonly final?: boolean;
}

/** An attempt of a step began, or ended (after `ms`): for whoever watches the runtime (metrics). */
export type StepEvent =
  | { readonly handler: string; readonly attempt: number; readonly phase: 'started' }
  | { readonly handler: string; readonly attempt: number; readonly phase: 'ended'; readonly outcome: StepOutcome; readonly ms: number };

/** Stopped: the instance left the step (an interrupt), its claim was lost, or chartd shut down before it ended. */
export type StepOutcome = 'succeeded' | 'failed' | 'stopped';

/** The attempt an instance runs now, and when it has settled. */
interface Attempt {
  settled: Promise<void>;
}

export class StepRunner {
  /** The newest attempt per instance key. */
  private readonly attempts = new Map<string, Attempt>();
  private readonly shutdown = new AbortController();

  constructor(
    private readonly handlers: HandlerLookup,
    private readonly environment: Environment,
    private readonly log: Logger,
    private readonly observe: (event: StepEvent) => void = () => {},
  ) {}

  /**
   * Runs the attempt of the step the snapshot is in. An instance runs one attempt at a time: a new one starts once
   * the one before (stopped by its `stop`) has its processes gone, so a cleanup step never races the step whose
   * files it removes. Resolves with the outcome, or undefined when `stop` aborted it or chartd is shutting down:
   * an attempt cut short is not an outcome (whoever claims the step next runs it again).
   */
  async run(key: string, chart: Chart, snapshot: Snapshot, stop: AbortSignal): Promise<StepResult | undefined> {
    const def = chart.states[snapshot.state];
    if (def?.kind !== 'step' || this.shutdown.signal.aborted) return undefined;
    const previous = this.attempts.get(key);
    let result: StepResult | undefined;
    const attempt: Attempt = { settled: Promise.resolve() };
    attempt.settled = (previous?.settled ?? Promise.resolve()).then(async () => {
      if (!stop.aborted && !this.shutdown.signal.aborted) result = await this.execute(key, def, snapshot, stop);
    });
    this.attempts.set(key, attempt);
    await attempt.settled;
    if (this.attempts.get(key) === attempt) this.attempts.delete(key);
    return stop.aborted || this.shutdown.signal.aborted ? undefined : result;
  }

  get active(): number {
    return this.attempts.size;
  }

  stop(): void {
    this.shutdown.abort(new Error('chartd is shutting down'));
  }

  private async execute(key: string, def: StepState, snapshot: Snapshot, left: AbortSignal): Promise<StepResult> {
    const base = { state: def.name, attempt: snapshot.attempt };
    const log = this.log.child({ instance: key, step: def.name, attempt: snapshot.attempt });
    const timeout = AbortSignal.timeout(def.timeoutMs);
    const signal = AbortSignal.any([timeout, this.shutdown.signal, left]);
    const started = Date.now();
    const ended = (outcome: StepOutcome): void => this.observe({ handler: def.run, attempt: snapshot.attempt, phase: 'ended', outcome, ms: Date.now() - started });
    this.observe({ handler: def.run, attempt: snapshot.attempt, phase: 'started' });
    try {
      const handler = this.handlers.get(def.run);
      if (!handler) throw new Error(`handler ${def.run} is not registered`);
      const scope = templateScope(snapshot);
      const args = confinePaths(handler, def.with, renderValue(def.with, scope) as Record<string, unknown>, scope);
      log.info({ handler: def.run }, 'step started');
      const { environment } = this;
      await handler.run(args, {
        signal, log, instance: { chart: snapshot.chart, id: snapshot.id, state: def.name, attempt: snapshot.attempt },
        env: (name, purpose) => environment.read(name, purpose),
        childEnv: () => environment.forChild(),
      });
      log.info({ ms: Date.now() - started }, 'step succeeded');
      ended('succeeded');
      return base;
    } catch (error) {
      const message = timeout.aborted ? timedOut(def) : error instanceof Error ? error.message : String(error);
      log.warn({ ms: Date.now() - started, error: message }, left.aborted ? `step stopped: ${(left.reason as Error).message}` : 'step failed');
      ended(left.aborted || this.shutdown.signal.aborted ? 'stopped' : 'failed');
      return { ...base, error: message, ...(error instanceof FinalFailure ? { final: true } : {}) };
    }
  }
}

/** The failure of an attempt that ran past the step's timeout (the simulator reports the same). */
export function timedOut(def: StepState): string {
  return `timed out after ${def.timeoutMs} ms`;
}
