// `chartd validate FILE...`: every problem, warning and note of every file; exit 0 when there are no problems, 1 otherwise.

import { loadChartPaths } from '../../chart/load.js';
import { formatProblem } from '../../chart/problem.js';
import { chartLoadOptions } from '../../main.js';
import { parse, UsageError } from '../usage.js';

export async function validateCommand(args: string[]): Promise<number> {
  const { positionals } = parse(args, {}, true);
  if (!positionals.length) throw new UsageError('validate needs at least one chart file or directory');
  const { charts, problems, notices } = await loadChartPaths(positionals, chartLoadOptions());
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
