// `chartd validate FILE...`: every problem, warning and note of every file; exit 0 when there are no problems, 1 otherwise.

import { loadChartPaths } from '../../chart/load.js';
import { formatProblem } from '../../chart/problem.js';
import { chartLoadOptions } from '../../main.js';
import { ChartdCommand } from '../command.js';

export function command(): ChartdCommand {
  return new ChartdCommand('validate')
    .description(`Checks chart files and prints every problem as file:line: yaml.path: message, then
every warning and note (those do not fail validation: chartd serves such a chart as
it is). Exits 1 if there are problems, else 0 with an ok line per chart.`)
    .operand('FILE|DIR', 'chart files, or directories of them (their *.test.yaml are left out)', { many: true })
    .example('chartd validate charts', 'chartd validate charts/rolling-upgrade.yaml my-chart.yaml')
    .run(validate);
}

async function validate(_options: object, paths: string[]): Promise<number> {
  const { charts, problems, notices } = await loadChartPaths(paths, chartLoadOptions());
  for (const problem of problems) process.stdout.write(`${formatProblem(problem)}\n`);
  // Warnings and notes do not fail validation: chartd serves such a chart as it is.
  for (const notice of notices) process.stdout.write(`${formatProblem(notice)}\n`);
  for (const chart of charts) {
    if (!problems.some((problem) => problem.file === chart.file)) {
      process.stdout.write(`ok ${chart.file}: chart ${chart.name} (${chart.dialect}, ${Object.keys(chart.states).length} states, version ${chart.version})\n`);
    }
  }
  if (problems.length) process.stdout.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} found\n`);
  return problems.length ? 1 : 0;
}
