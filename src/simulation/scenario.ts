// Chart test files (NAME.test.yaml): read, shape-checked and checked against their chart, every problem at once with its line.

import { access } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { parseDuration, parseInstant } from '../chart/duration.js';
import { loadChartFile, type LoadOptions } from '../chart/load.js';
import { readSourceFile } from '../chart/sourceFile.js';
import type { Chart } from '../chart/model.js';
import { ChartInvalid, didYouMean, listNames, ProblemLog } from '../chart/problem.js';
import { shapeChecker } from '../chart/schema.js';
import { isRecord, parseYaml } from '../chart/yamlSource.js';
import type { Context } from '../engine/snapshot.js';
import { ContextInvalid } from '../errors.js';
import { formatInputProblem, InputChecker } from '../runtime/inputChecker.js';
import { SCENARIO_SHAPE } from './scenarioShape.js';

export type Action =
  | { readonly kind: 'put'; readonly state: string; readonly by?: string }
  | { readonly kind: 'event'; readonly event: string; readonly by?: string; readonly state?: string }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'succeed'; readonly steps: readonly string[] }
  | { readonly kind: 'fail'; readonly step: string; readonly message: string; readonly attempts?: number; readonly final: boolean };

/** A failure expected: its node alone, or its node and exact message. */
export type FailureMatch = string | { readonly node: string; readonly error?: string };

export interface Expectation {
  readonly state?: string;
  readonly status?: 'active' | 'done';
  readonly counter?: number;
  readonly callers?: readonly string[];
  readonly failures?: number | readonly FailureMatch[];
  readonly alerts?: number | readonly string[];
  readonly answer?: 200 | 400 | 406;
  readonly path?: readonly string[];
}

export interface ScenarioStep {
  /** 1-based, as reports name it. */
  readonly number: number;
  readonly line: number;
  /** The step as written, e.g. "put: drain (by web1)". */
  readonly text: string;
  readonly action?: Action;
  readonly expect?: Expectation;
  /** Line of each key under expect:, so a failed expectation points at itself. */
  readonly expectLines: Readonly<Record<string, number>>;
}

export interface Scenario {
  readonly name: string;
  readonly line: number;
  readonly id: string;
  readonly context: Context;
  readonly settings?: Context;
  readonly start: number;
  readonly steps: readonly ScenarioStep[];
}

export interface ScenarioFile {
  readonly file: string;
  readonly chart: Chart;
  readonly scenarios: readonly Scenario[];
}

/** When scenarios start unless the file says otherwise: fixed, so templates of the creation time render the same every run. */
export const DEFAULT_START = '2026-01-01T00:00:00Z';
const ACTIONS = ['put', 'event', 'advance', 'succeed', 'fail'] as const;
/** Keys that go with one action only. */
const MODIFIERS: Readonly<Record<string, readonly string[]>> = { by: ['put', 'event'], state: ['event'], message: ['fail'], attempts: ['fail'], final: ['fail'] };
const checkScenarioShape = shapeChecker(SCENARIO_SHAPE);

/** Reads a chart test file and the chart it tests; throws ChartInvalid with every problem of both. */
export async function loadScenarioFile(file: string, options: LoadOptions, inputs = new InputChecker()): Promise<ScenarioFile> {
  const doc = parseYaml(await readSourceFile(file, 'chart test'), file);
  const log = new ProblemLog(file, doc.lineOf);
  const shapeProblems = checkScenarioShape(doc.value);
  for (const problem of shapeProblems) log.add(problem.path, problem.message);
  // The rest is read only where the shape is right, so one mistake is not reported twice over.
  const sound = (path: string): boolean => !shapeProblems.some((problem) => problem.path === path || problem.path.startsWith(`${path}.`) || problem.path.startsWith(`${path}[`));
  if (!sound('chart') || !sound('start') || !Array.isArray(doc.value['scenarios'])) throw new ChartInvalid(log.sorted());
  const chart = await loadChartFile(await chartFileOf(file, doc.value['chart'], log), options);
  const fileStart = timeAt(doc.value['start'] ?? DEFAULT_START, 'start', log);
  const names = new StateNames(chart, log);
  const scenarios: Scenario[] = [];
  for (const [index, raw] of (doc.value['scenarios'] as Record<string, unknown>[]).entries()) {
    const at = `scenarios[${index}]`;
    const soundSteps = (raw['steps'] as Record<string, unknown>[]).flatMap((step, number) => (sound(`${at}.steps[${number}]`) ? [[step, number] as const] : []));
    const steps = soundSteps.map(([step, number]) => readStep(step, `${at}.steps[${number}]`, number + 1, names, log));
    if (!sound(`${at}.name`) || !sound(`${at}.id`) || !sound(`${at}.start`) || !sound(`${at}.context`) || !sound(`${at}.settings`)) continue;
    const start = raw['start'] === undefined ? fileStart : timeAt(raw['start'], `${at}.start`, log);
    scenarios.push({
      name: raw['name'] as string, line: log.lineOf(at), id: (raw['id'] as string | undefined) ?? 'default', start, steps,
      ...inputsOf(chart, raw, at, inputs, log),
    });
  }
  if (!log.empty) throw new ChartInvalid(log.sorted());
  return { file, chart, scenarios };
}

/** NAME.test.yaml tests NAME.yaml (or NAME.yml) beside it, unless chart: names another file (relative to it). */
async function chartFileOf(file: string, named: unknown, log: ProblemLog): Promise<string> {
  if (typeof named === 'string') return resolveFrom(file, named);
  const base = file.replace(/\.test\.ya?ml$/i, '');
  for (const candidate of [`${base}.yaml`, `${base}.yml`]) {
    if (await exists(candidate)) return candidate;
  }
  log.add('', `no chart ${base}.yaml beside this test file; name the chart it tests with chart: FILE`, 1);
  throw new ChartInvalid(log.sorted());
}

function resolveFrom(file: string, named: string): string {
  return isAbsolute(named) ? named : join(dirname(file), named);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

function timeAt(raw: unknown, path: string, log: ProblemLog): number {
  try {
    return parseInstant(String(raw));
  } catch (error) {
    log.add(path, (error as Error).message);
    return 0;
  }
}

/** The context and settings as the server would store them: checked against the chart's schemas, defaults filled in. */
function inputsOf(chart: Chart, raw: Record<string, unknown>, at: string, inputs: InputChecker, log: ProblemLog): { context: Context; settings?: Context } {
  let context: Context = {};
  try {
    context = inputs.check(chart, raw['context'] ?? {});
  } catch (error) {
    if (!(error instanceof ContextInvalid)) throw error;
    for (const problem of error.problems) log.add(raw['context'] === undefined ? at : `${at}.context`, problem);
  }
  if (!chart.settings && raw['settings'] === undefined) return { context };
  const { settings, missing, problems } = inputs.settings(chart, (raw['settings'] ?? {}) as Context);
  const where = raw['settings'] === undefined ? at : `${at}.settings`;
  if (missing.length) log.add(where, `chart ${chart.name} needs the operator's settings ${listNames(missing)}; give them under settings:`);
  for (const problem of problems) log.add(where, formatInputProblem('settings', problem));
  return { context, settings };
}

function readStep(raw: Record<string, unknown>, at: string, number: number, names: StateNames, log: ProblemLog): ScenarioStep {
  const actions = ACTIONS.filter((action) => action in raw);
  if (actions.length > 1) log.add(at, `a step does one thing, and this one has ${actions.join(' and ')}: split it into ${actions.length} steps`);
  for (const [modifier, owners] of Object.entries(MODIFIERS)) {
    if (modifier in raw && !owners.some((owner) => owner in raw)) log.add(`${at}.${modifier}`, `${modifier}: goes with ${owners.join(' or ')}:, which this step does not have`);
  }
  const action = actions.length === 1 ? readAction(actions[0]!, raw, at, names, log) : undefined;
  const expect = isRecord(raw['expect']) ? readExpectation(raw['expect'], `${at}.expect`, names) : undefined;
  if (expect?.answer !== undefined && !('put' in raw || 'event' in raw)) log.add(`${at}.expect.answer`, 'answer: is the status of a put or an event, which this step does not send');
  const expectLines = Object.fromEntries(Object.keys(expect ?? {}).map((key) => [key, log.lineOf(`${at}.expect.${key}`)]));
  return { number, line: log.lineOf(at), text: describeStep(raw), ...(action && { action }), ...(expect && { expect }), expectLines };
}

function readAction(kind: (typeof ACTIONS)[number], raw: Record<string, unknown>, at: string, names: StateNames, log: ProblemLog): Action | undefined {
  const by = typeof raw['by'] === 'string' ? { by: raw['by'] } : {};
  switch (kind) {
    case 'put':
      return { kind, state: names.state(raw['put'] as string, `${at}.put`), ...by };
    case 'event': {
      const state = typeof raw['state'] === 'string' ? { state: names.state(raw['state'], `${at}.state`) } : {};
      return { kind, event: names.event(raw['event'] as string, `${at}.event`), ...by, ...state };
    }
    case 'advance':
      try {
        return { kind, ms: parseDuration(String(raw['advance'])) };
      } catch (error) {
        log.add(`${at}.advance`, (error as Error).message);
        return undefined;
      }
    case 'succeed': {
      const steps = Array.isArray(raw['succeed']) ? (raw['succeed'] as string[]) : [raw['succeed'] as string];
      return { kind, steps: steps.map((step, index) => names.step(step, Array.isArray(raw['succeed']) ? `${at}.succeed[${index}]` : `${at}.succeed`)) };
    }
    case 'fail': {
      const step = names.step(raw['fail'] as string, `${at}.fail`);
      const attempts = typeof raw['attempts'] === 'number' ? raw['attempts'] : undefined;
      const def = names.chart.states[step];
      if (attempts !== undefined && raw['final'] === true) log.add(`${at}.final`, 'final: fails the step at once, whatever attempts: says; give one of them');
      else if (attempts !== undefined && def?.kind === 'step' && attempts > def.retry.attempts) {
        log.add(`${at}.attempts`, `step ${step} makes ${def.retry.attempts} attempt${def.retry.attempts === 1 ? '' : 's'} in all (retry.attempts), so ${attempts} cannot fail`);
      }
      return { kind, step, message: (raw['message'] as string | undefined) ?? 'failed', ...(attempts !== undefined && { attempts }), final: raw['final'] === true };
    }
  }
}

function readExpectation(raw: Record<string, unknown>, at: string, names: StateNames): Expectation {
  if (typeof raw['state'] === 'string') names.state(raw['state'], `${at}.state`);
  if (Array.isArray(raw['path'])) raw['path'].forEach((state, index) => names.state(state as string, `${at}.path[${index}]`));
  if (Array.isArray(raw['failures'])) {
    raw['failures'].forEach((item, index) => names.state(typeof item === 'string' ? item : (item as { node: string }).node, `${at}.failures[${index}]`));
  }
  return raw as Expectation;
}

/** "put: drain (by web1)", "advance: 10m": how reports name a step. */
function describeStep(raw: Record<string, unknown>): string {
  const action = ACTIONS.find((key) => key in raw);
  if (!action) return 'expect';
  const value = Array.isArray(raw[action]) ? (raw[action] as unknown[]).join(', ') : String(raw[action]);
  return `${action}: ${value}${typeof raw['by'] === 'string' ? ` (by ${raw['by']})` : ''}`;
}

/** Checks the names a scenario uses against the chart, so a typo is a problem at its line rather than a puzzling failure. */
class StateNames {
  private readonly states: string[];
  private readonly events: string[];

  constructor(
    readonly chart: Chart,
    private readonly log: ProblemLog,
  ) {
    this.states = Object.keys(chart.states);
    this.events = [...new Set(Object.values(chart.states).flatMap((state) => (state.kind === 'gate' || state.kind === 'event' ? Object.keys(state.on ?? {}) : [])))];
  }

  state(name: string, path: string): string {
    if (!this.states.includes(name)) this.log.add(path, `chart ${this.chart.name} has no state '${name}'${didYouMean(name, this.states)} (its states: ${listNames(this.states)})`);
    return name;
  }

  step(name: string, path: string): string {
    const steps = this.states.filter((state) => this.chart.states[state]!.kind === 'step');
    if (this.states.includes(name) && !steps.includes(name)) this.log.add(path, `'${name}' is not a step (run:) of chart ${this.chart.name}; its steps: ${listNames(steps)}`);
    else this.state(name, path);
    return name;
  }

  event(name: string, path: string): string {
    if (!this.events.includes(name)) this.log.add(path, `no state of chart ${this.chart.name} takes event '${name}'${didYouMean(name, this.events)} (its events: ${listNames(this.events)})`);
    return name;
  }
}
