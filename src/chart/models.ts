// The prediction models charts name under models: (for POST /state), loaded and checked like the charts themselves.

import { dirname, resolve } from 'node:path';
import { compileDecisionTree, type DecisionTree } from './decisionTree.js';
import type { Chart, ModelRef } from './model.js';
import { ChartInvalid, ProblemLog, type Problem } from './problem.js';
import { readSourceFile } from './sourceFile.js';
import { isRecord, parseYaml } from './yamlSource.js';

/** The models of every chart served, by chart name and model name. */
export class ChartModels {
  constructor(private readonly byChart: ReadonlyMap<string, ReadonlyMap<string, DecisionTree>> = new Map()) {}

  get(chart: string, model: string): DecisionTree | undefined {
    return this.byChart.get(chart)?.get(model);
  }

  names(chart: string): string[] {
    return [...(this.byChart.get(chart)?.keys() ?? [])].sort();
  }
}

/** The `models:` of a parsed chart file, each with the line that names it; undefined when there are none. */
export function modelRefs(doc: Record<string, unknown>, lineOf: (path: string) => number): Record<string, ModelRef> | undefined {
  const raw = doc['models'];
  if (!isRecord(raw)) return undefined;
  const refs: Record<string, ModelRef> = {};
  for (const [name, file] of Object.entries(raw)) {
    if (typeof file === 'string') refs[name] = { file, line: lineOf(`models.${name}`) };
  }
  return refs;
}

/** Reads each model the chart names (relative to the chart file) and checks it against the chart's states. */
export async function loadChartModels(chart: Chart): Promise<{ models: Map<string, DecisionTree>; problems: Problem[] }> {
  const models = new Map<string, DecisionTree>();
  const problems: Problem[] = [];
  const states = Object.keys(chart.states);
  for (const [name, ref] of Object.entries(chart.models ?? {})) {
    const file = resolve(dirname(chart.file), ref.file);
    try {
      const doc = parseYaml(await readSourceFile(file, 'model'), file);
      const log = new ProblemLog(file, doc.lineOf);
      const tree = compileDecisionTree(doc.value, states, log);
      if (tree) models.set(name, tree);
      else problems.push(...log.sorted());
    } catch (error) {
      if (!(error instanceof ChartInvalid)) throw error;
      // A file that cannot be read is the chart's mistake, at the line naming it; one that does not parse is the model's.
      const unreadable = error.problems.every((problem) => problem.line === 0);
      problems.push(...(unreadable
        ? error.problems.map((problem) => ({ file: chart.file, path: `models.${name}`, line: ref.line, message: `model file ${ref.file}: ${problem.message}` }))
        : error.problems));
    }
  }
  return { models, problems };
}
