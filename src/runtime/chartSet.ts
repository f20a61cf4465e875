// What a start-up or a reload would serve: the --chart files, the charts applied over HTTP, the --values file, and all their problems.

import { loadChartPaths, parseChart, type LoadOptions } from '../chart/load.js';
import type { Chart } from '../chart/model.js';
import type { ChartModels } from '../chart/models.js';
import { ChartInvalid, type Notice, type Problem } from '../chart/problem.js';
import type { Store } from '../store/port.js';
import { appliedCharts, appliedFile } from './appliedCharts.js';
import type { InputChecker } from './inputChecker.js';
import { checkOperatorValues, loadOperatorValues, NO_VALUES, type OperatorValues } from './operatorValues.js';

export interface ChartSetOptions {
  readonly chartPaths: readonly string[];
  /** --values FILE: the operator's settings of the charts, and the environment variables handlers may read. */
  readonly valuesFile?: string;
  /** Where the charts applied over HTTP are kept. */
  readonly store: Store;
  readonly load: LoadOptions;
  readonly inputs: InputChecker;
}

export interface ChartSet {
  /** Every chart that loaded, in name order; a --chart file wins over an applied chart of the same name. */
  readonly charts: readonly Chart[];
  readonly models: ChartModels;
  readonly values: OperatorValues;
  readonly notices: readonly Notice[];
  /** Any of them refuses the set: start-up stops, a reload changes nothing. */
  readonly problems: readonly Problem[];
  /** The same for the --values file: its shape, or settings the charts refuse. */
  readonly valueProblems: readonly Problem[];
}

export async function readChartSet(options: ChartSetOptions): Promise<ChartSet> {
  const files = await loadChartPaths([...options.chartPaths], options.load);
  const problems: Problem[] = [...files.problems];
  const notices: Notice[] = [...files.notices];
  const fromFiles = new Map(files.charts.map((chart) => [chart.name, chart]));
  const applied: Chart[] = [];
  for (const stored of await appliedCharts(options.store)) {
    const file = fromFiles.get(stored.name);
    if (file) {
      notices.push({
        level: 'warning', file: file.file, path: '', line: 0,
        message: `chart ${stored.name} was also applied over HTTP (version ${stored.version}, ${stored.appliedAt}); this file wins, and the applied copy stays in the data directory, not served, until no --chart file declares ${stored.name}`,
      });
      continue;
    }
    try {
      applied.push(parseChart(stored.source, appliedFile(stored.name), options.load));
    } catch (error) {
      if (!(error instanceof ChartInvalid)) throw error;
      // It loaded when it was applied (this chartd may lack a handler it names): served again once a corrected version is.
      notices.push(...error.problems.map((problem): Notice => ({ ...problem, level: 'warning', message: `not served, as it no longer loads: ${problem.message}` })));
    }
  }
  const charts = [...files.charts, ...applied].sort((a, b) => (a.name < b.name ? -1 : 1));
  let values = NO_VALUES;
  let valueProblems: Problem[] = [];
  if (options.valuesFile !== undefined) {
    try {
      values = await loadOperatorValues(options.valuesFile);
      valueProblems = checkOperatorValues(values, charts, options.inputs, options.load.handlers);
    } catch (error) {
      if (!(error instanceof ChartInvalid)) throw error;
      valueProblems = error.problems;
    }
  }
  return { charts, models: files.models, values, notices, problems, valueProblems };
}
