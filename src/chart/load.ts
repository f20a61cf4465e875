// Loads chart files into frozen Charts, reporting every problem of every file at once.

import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { HandlerLookup } from '../handlers/handler.js';
import { compileChartd } from './dialects/chartd.js';
import { compileStateService } from './dialects/stateService.js';
import { checkGraph, type ChartDraft } from './graph.js';
import type { Chart, Dialect } from './model.js';
import { ChartInvalid, ProblemLog, type Problem } from './problem.js';
import { checkShape } from './schema.js';
import { parseYaml } from './yamlSource.js';

export interface LoadOptions {
  handlers: HandlerLookup;
  /** The built-in services a chart may name as its owner; absent = any name is taken. */
  services?: readonly string[];
}

export const MAX_CHART_BYTES = 1024 * 1024;
const CHART_EXTENSIONS = new Set(['.yaml', '.yml']);

/** Content hash naming a chart version: sha256 of the UTF-8 bytes, first 16 hex digits. */
export function chartVersion(source: string): string {
  return createHash('sha256').update(source, 'utf8').digest('hex').slice(0, 16);
}

/** Builds a frozen Chart from YAML text; throws ChartInvalid listing every problem found. */
export function parseChart(source: string, file: string, options: LoadOptions): Chart {
  const doc = parseYaml(source, file);
  const log = new ProblemLog(file, doc.lineOf);
  const dialect = detectDialect(doc.value);
  if (!dialect) {
    throw new ChartInvalid([{
      file, path: '', line: 1,
      message: "cannot tell the chart's dialect: a chartd chart starts with 'chart: NAME', a StateService chart has 'current_state' and a 'states' list",
    }]);
  }
  for (const problem of checkShape(dialect, doc.value)) log.add(problem.path, problem.message);
  const draft = dialect === 'chartd' ? compileChartd(doc.value, log, options.handlers, options.services) : compileStateService(doc.value, file, log);
  checkGraph(draft, log);
  if (!log.empty) throw new ChartInvalid(log.sorted());
  return deepFreeze(buildChart(draft, dialect, source, file, log.warnings));
}

/** Reads and parses one chart file; files over 1 MiB are refused before they are read whole. */
export async function loadChartFile(file: string, options: LoadOptions): Promise<Chart> {
  return parseChart(await readChartSource(file), file, options);
}

/**
 * Loads each path: a file, or a directory's *.yaml / *.yml files (not recursive, in name order).
 * Charts that load are returned even when others fail; the caller decides whether problems are fatal.
 */
export async function loadChartPaths(paths: string[], options: LoadOptions): Promise<{ charts: Chart[]; problems: Problem[] }> {
  const problems: Problem[] = [];
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
      chart = await loadChartFile(file, options);
    } catch (error) {
      if (!(error instanceof ChartInvalid)) throw error;
      problems.push(...error.problems);
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
    charts.push(chart);
  }
  return { charts, problems };
}

function detectDialect(doc: Record<string, unknown>): Dialect | undefined {
  if ('chart' in doc) return 'chartd';
  if ('current_state' in doc || Array.isArray(doc['states'])) return 'stateservice';
  return undefined;
}

function buildChart(draft: ChartDraft, dialect: Dialect, source: string, file: string, warnings: readonly Problem[]): Chart {
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
    file,
    source,
    ...(warnings.length > 0 && { warnings }),
  };
}

async function readChartSource(file: string): Promise<string> {
  const refuse = (message: string): never => {
    throw new ChartInvalid([{ file, path: '', line: 0, message }]);
  };
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    return refuse(`cannot read the chart file: ${describeFsError(error)}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) refuse('not a regular file');
    if (info.size > MAX_CHART_BYTES) refuse(tooBig(info.size));
    // Read one byte past the limit so a file that grew since stat() is still caught.
    const buffer = Buffer.alloc(MAX_CHART_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CHART_BYTES) refuse(tooBig());
    }
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buffer.subarray(0, length));
    } catch {
      return refuse('the file is not valid UTF-8 text');
    }
  } finally {
    await handle.close();
  }
}

async function listChartFiles(path: string, problems: Problem[]): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    problems.push({ file: path, path: '', line: 0, message: `cannot read charts from here: ${describeFsError(error)}` });
    return [];
  }
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  return entries
    .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && CHART_EXTENSIONS.has(extname(entry.name).toLowerCase()))
    .map((entry) => entry.name)
    .sort()
    .map((name) => join(path, name));
}

function tooBig(bytes?: number): string {
  return `the file is over the 1 MiB limit for chart files${bytes === undefined ? '' : ` (${bytes} bytes)`}`;
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (error as Error).message;
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
