// Loads chart files into frozen Charts, reporting every problem of every file at once.

import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { HandlerLookup } from '../handlers/handler.js';
import type { DecisionTree } from './decisionTree.js';
import { compileChartd } from './dialects/chartd.js';
import { compileStateService } from './dialects/stateService.js';
import { checkGraph, type ChartDraft } from './graph.js';
import type { Chart, Dialect, ModelRef } from './model.js';
import { ChartModels, loadChartModels, modelRefs } from './models.js';
import { ChartInvalid, ProblemLog, type Notice, type Problem } from './problem.js';
import { checkShape } from './schema.js';
import { describeFsError, MAX_SOURCE_BYTES, readSourceFile } from './sourceFile.js';
import { parseYaml } from './yamlSource.js';

export interface LoadOptions {
  handlers: HandlerLookup;
  /** The built-in services a chart may name as its owner; absent = any name is taken. */
  services?: readonly string[];
}

export const MAX_CHART_BYTES = MAX_SOURCE_BYTES;
const CHART_EXTENSIONS = new Set(['.yaml', '.yml']);
/** Chart tests sit beside their charts as NAME.test.yaml (chartd test); a chart directory's loader passes them by. */
const SCENARIO_FILE = /\.test\.ya?ml$/i;

export function isScenarioFile(path: string): boolean {
  return SCENARIO_FILE.test(path);
}

/** Content hash naming a chart version: sha256 of the UTF-8 bytes, first 16 hex digits. */
export function chartVersion(source: string): string {
  return createHash('sha256').update(source, 'utf8').digest('hex').slice(0, 16);
}

/** A chart as loaded, with what it was warned of. */
export interface CompiledChart {
  readonly chart: Chart;
  readonly notices: readonly Notice[];
}

/** Every chart found, every problem and notice, and the models of the charts that loaded. */
export interface LoadedCharts {
  readonly charts: Chart[];
  readonly problems: Problem[];
  readonly notices: Notice[];
  readonly models: ChartModels;
}

/** Builds a frozen Chart from YAML text; throws ChartInvalid listing every problem found. */
export function parseChart(source: string, file: string, options: LoadOptions): Chart {
  return compileChart(source, file, options).chart;
}

/** parseChart, keeping the notices (ignored keys, states a saved machine has passed) for the operator. */
export function compileChart(source: string, file: string, options: LoadOptions): CompiledChart {
  const doc = parseYaml(source, file);
  const log = new ProblemLog(file, doc.lineOf);
  const dialect = detectDialect(doc.value);
  if (!dialect) {
    throw new ChartInvalid([{
      file, path: '', line: 1,
      message: "cannot tell the chart's dialect: a chartd chart starts with 'chart: NAME', a StateService chart has 'current_state' and a 'states' list",
    }]);
  }
  for (const problem of checkShape(dialect, doc.value)) {
    if (problem.level) log.notice(problem.level, problem.path, problem.message);
    else log.add(problem.path, problem.message);
  }
  const draft = dialect === 'chartd' ? compileChartd(doc.value, log, options.handlers, options.services) : compileStateService(doc.value, file, log);
  checkGraph(draft, log);
  if (!log.empty) throw new ChartInvalid(log.sorted(), log.sortedNotices());
  const models = modelRefs(doc.value, doc.lineOf);
  return { chart: deepFreeze(buildChart(draft, dialect, source, file, models)), notices: log.sortedNotices() };
}

/** Reads and parses one chart file; files over 1 MiB are refused before they are read whole. */
export async function loadChartFile(file: string, options: LoadOptions): Promise<Chart> {
  return parseChart(await readSourceFile(file, 'chart'), file, options);
}

/**
 * Loads each path: a file, or a directory's *.yaml / *.yml files but its tests (not recursive, in name order).
 * Charts that load are returned even when others fail; the caller decides whether problems are fatal.
 */
export async function loadChartPaths(paths: string[], options: LoadOptions): Promise<LoadedCharts> {
  const problems: Problem[] = [];
  const notices: Notice[] = [];
  const models = new Map<string, Map<string, DecisionTree>>();
  const files: string[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    for (const file of await listChartFiles(path, problems)) {
      if (seen.has(resolve(file))) continue;
      seen.add(resolve(file));
      files.push(file);
    }
  }
  const charts: Chart[] = [];
  const byName = new Map<string, Chart>();
  for (const file of files) {
    let chart: Chart;
    try {
      const compiled = compileChart(await readSourceFile(file, 'chart'), file, options);
      chart = compiled.chart;
      notices.push(...compiled.notices);
    } catch (error) {
      if (!(error instanceof ChartInvalid)) throw error;
      problems.push(...error.problems);
      notices.push(...error.notices);
      continue;
    }
    const first = byName.get(chart.name);
    if (first) {
      const fromFileName = chart.dialect === 'stateservice' ? ' (taken from the file name)' : '';
      problems.push({
        file, path: chart.dialect === 'chartd' ? 'chart' : '', line: chart.dialect === 'chartd' ? chartKeyLine(chart.source) : 0,
        message: `chart name '${chart.name}'${fromFileName} is already declared by ${first.file}; chart names must be unique`,
      });
      continue;
    }
    byName.set(chart.name, chart);
    const found = await loadChartModels(chart);
    if (found.problems.length) {
      problems.push(...found.problems);
      continue;
    }
    models.set(chart.name, found.models);
    charts.push(chart);
  }
  return { charts, problems, notices, models: new ChartModels(models) };
}

function detectDialect(doc: Record<string, unknown>): Dialect | undefined {
  if ('chart' in doc) return 'chartd';
  if ('current_state' in doc || Array.isArray(doc['states'])) return 'stateservice';
  return undefined;
}

function buildChart(draft: ChartDraft, dialect: Dialect, source: string, file: string, models: Record<string, ModelRef> | undefined): Chart {
  return {
    name: draft.name,
    version: chartVersion(source),
    dialect,
    ...(draft.description !== undefined && { description: draft.description }),
    initial: draft.initial ?? '',
    states: draft.states,
    ...(draft.context !== undefined && { context: draft.context }),
    ...(draft.settings !== undefined && { settings: draft.settings }),
    ...(draft.failurePrefix !== undefined && { failurePrefix: draft.failurePrefix }),
    ...(draft.owner !== undefined && { owner: draft.owner }),
    ...(models !== undefined && { models }),
    file,
    source,
  };
}

async function listChartFiles(path: string, problems: Problem[]): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    problems.push({ file: path, path: '', line: 0, message: `cannot read charts from here: ${describeFsError(error)}` });
    return [];
  }
  if (!info.isDirectory()) {
    if (!isScenarioFile(path)) return [path];
    problems.push({ file: path, path: '', line: 0, message: 'this is a chart test file (NAME.test.yaml), not a chart; run it with chartd test' });
    return [];
  }
  const entries = await readdir(path, { withFileTypes: true });
  return entries
    .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && CHART_EXTENSIONS.has(extname(entry.name).toLowerCase()) && !isScenarioFile(entry.name))
    .map((entry) => entry.name)
    .sort()
    .map((name) => join(path, name));
}

/** 1-based line of the top-level `chart:` key, for problems about the chart's name. */
function chartKeyLine(source: string): number {
  const index = source.split(/\r?\n/).findIndex((line) => /^chart\s*:/.test(line));
  return index + 1;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
