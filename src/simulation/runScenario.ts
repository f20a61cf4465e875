// Runs one chart test scenario on a Simulation: each step's action, then its expectations; the first failed step ends it.

import { isDeepStrictEqual } from 'node:util';
import type { StepState } from '../chart/model.js';
import type { HandlerLookup } from '../handlers/handler.js';
import type { Action, Expectation, FailureMatch, Scenario, ScenarioFile, ScenarioStep } from './scenario.js';
import { Simulation, SimulationError, type Answer } from './simulation.js';

/** One expectation that did not hold, at its own line. */
export interface Mismatch {
  readonly key: string;
  readonly line: number;
  readonly expected: unknown;
  readonly got: unknown;
}

export interface ScenarioFailure {
  readonly step: number;
  readonly line: number;
  /** The step as written, e.g. "put: drain (by web1)". */
  readonly text: string;
  /** Why the step itself could not be carried out; absent when only expectations failed. */
  readonly message?: string;
  readonly mismatches: readonly Mismatch[];
}

export interface ScenarioResult {
  readonly file: string;
  readonly chart: string;
  readonly name: string;
  readonly line: number;
  readonly passed: boolean;
  readonly failure?: ScenarioFailure;
  /** Every state entered, the initial one first. */
  readonly path: readonly string[];
  readonly alerts: readonly string[];
}

export function runScenario(tests: ScenarioFile, scenario: Scenario, handlers: HandlerLookup): ScenarioResult {
  const simulation = new Simulation(tests.chart, handlers, {
    id: scenario.id, context: scenario.context, at: scenario.start, ...(scenario.settings && { settings: scenario.settings }),
  });
  const failure = firstFailure(simulation, scenario.steps);
  return {
    file: tests.file, chart: tests.chart.name, name: scenario.name, line: scenario.line, passed: !failure, ...(failure && { failure }),
    path: simulation.moves.map((move) => move.to), alerts: [...simulation.alerts],
  };
}

function firstFailure(simulation: Simulation, steps: readonly ScenarioStep[]): ScenarioFailure | undefined {
  for (const step of steps) {
    const at = { step: step.number, line: step.line, text: step.text };
    let answer: Answer | undefined;
    try {
      answer = step.action ? act(simulation, step.action) : undefined;
    } catch (error) {
      if (!(error instanceof SimulationError)) throw error;
      return { ...at, message: error.message, mismatches: [] };
    }
    if (answer && answer.status !== 200 && step.expect?.answer === undefined) {
      const hint = `; if the scenario means to show that, add expect: { answer: ${answer.status} }`;
      return { ...at, message: `${step.text} was refused (${answer.status}): ${answer.reason ?? ''}${hint}`, mismatches: [] };
    }
    const mismatches = step.expect ? compare(simulation, step.expect, answer, step.expectLines) : [];
    if (mismatches.length) return { ...at, mismatches };
  }
  return undefined;
}

function act(simulation: Simulation, action: Action): Answer | undefined {
  switch (action.kind) {
    case 'put':
      return simulation.put(action.state, action.by);
    case 'event':
      return simulation.event(action.event, action.by, action.state);
    case 'advance':
      simulation.advance(action.ms);
      return undefined;
    case 'succeed':
      for (const step of action.steps) simulation.finishStep(step);
      return undefined;
    case 'fail':
      failStep(simulation, action);
      return undefined;
  }
}

/** Fails the step's next `attempts` attempts (all it has left by default; one for a final failure). */
function failStep(simulation: Simulation, action: Extract<Action, { kind: 'fail' }>): void {
  if (simulation.snapshot.state !== action.step) throw new SimulationError(`step ${action.step} is not running: ${simulation.whereNow()}`);
  const def = simulation.chart.states[action.step] as StepState;
  const left = def.retry.attempts - simulation.snapshot.attempt + 1;
  const failing = action.final ? 1 : action.attempts ?? left;
  if (failing > left) {
    throw new SimulationError(`step ${action.step} has ${left} attempt${left === 1 ? '' : 's'} left (retry: { attempts: ${def.retry.attempts} }), so ${failing} cannot fail`);
  }
  for (let count = 0; count < failing; count++) simulation.finishStep(action.step, { error: action.message, ...(action.final && { final: true }) });
}

function compare(simulation: Simulation, expect: Expectation, answer: Answer | undefined, lines: Readonly<Record<string, number>>): Mismatch[] {
  const { snapshot } = simulation;
  const got: Record<keyof Expectation, unknown> = {
    state: snapshot.state,
    status: snapshot.status,
    counter: snapshot.counter,
    callers: snapshot.callers,
    failures: typeof expect.failures === 'number' ? snapshot.failures.length : snapshot.failures.map((failure, index) => {
      // Each failure is shown as its expectation is written: a node alone, or a node with its message.
      const wanted = Array.isArray(expect.failures) ? (expect.failures as readonly FailureMatch[])[index] : undefined;
      if (typeof wanted === 'string') return failure.node;
      return wanted && wanted.error === undefined ? { node: failure.node } : { node: failure.node, error: failure.error };
    }),
    alerts: typeof expect.alerts === 'number' ? simulation.alerts.length : simulation.alerts,
    answer: answer?.status,
    path: simulation.moves.map((move) => move.to),
  };
  const mismatches: Mismatch[] = [];
  for (const [key, expected] of Object.entries(expect) as [keyof Expectation, unknown][]) {
    if (!isDeepStrictEqual(got[key], expected)) mismatches.push({ key, line: lines[key] ?? 0, expected, got: got[key] });
  }
  return mismatches;
}
