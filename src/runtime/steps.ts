// Runs step handlers: resolves templates, bounds each attempt by its timeout, reports the outcome.

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

export class StepRunner {
  /** One running attempt per instance key: "state#attempt". */
  private readonly running = new Map<string, string>();
  private readonly shutdown = new AbortController();

  constructor(
    private readonly handlers: HandlerLookup,
    private readonly environment: Environment,
    private readonly log: Logger,
    private readonly report: (key: string, result: StepResult) => void,
  ) {}

  /** Starts the step the snapshot is in, unless that attempt already runs. */
  start(key: string, chart: Chart, snapshot: Snapshot): void {
    const def = chart.states[snapshot.state];
    if (def?.kind !== 'step' || snapshot.deadline) return;
    const tag = `${snapshot.state}#${snapshot.attempt}`;
    if (this.running.get(key) === tag || this.shutdown.signal.aborted) return;
    this.running.set(key, tag);
    void this.execute(key, def, snapshot).then((result) => {
      if (this.running.get(key) === tag) this.running.delete(key);
      // A step cut short by shutdown is not an outcome: it runs again on the next start.
      if (!this.shutdown.signal.aborted) this.report(key, result);
    });
  }

  get active(): number {
    return this.running.size;
  }

  stop(): void {
    this.shutdown.abort(new Error('chartd is shutting down'));
  }

  private async execute(key: string, def: StepState, snapshot: Snapshot): Promise<StepResult> {
    const base = { state: def.name, attempt: snapshot.attempt };
    const log = this.log.child({ instance: key, step: def.name, attempt: snapshot.attempt });
    const timeout = AbortSignal.timeout(def.timeoutMs);
    const signal = AbortSignal.any([timeout, this.shutdown.signal]);
    const started = Date.now();
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
      return base;
    } catch (error) {
      const message = timeout.aborted ? timedOut(def) : error instanceof Error ? error.message : String(error);
      log.warn({ ms: Date.now() - started, error: message }, 'step failed');
      return { ...base, error: message, ...(error instanceof FinalFailure ? { final: true } : {}) };
    }
  }
}

/** The failure of an attempt that ran past the step's timeout (the simulator reports the same). */
export function timedOut(def: StepState): string {
  return `timed out after ${def.timeoutMs} ms`;
}
