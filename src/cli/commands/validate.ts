// `chartd validate FILE...`: every problem and warning of every file; exit 0 when no file has a problem, 1 otherwise.

import { loadChartPaths } from '../../chart/load.js';
import { formatProblem, formatWarning } from '../../chart/problem.js';
import { chartLoadOptions } from '../../main.js';
import { parse, UsageError } from '../usage.js';

export async function validateCommand(args: string[]): Promise<number> {
  const { positionals } = parse(args, {}, true);
  if (!positionals.length) throw new UsageError('validate needs at least one chart file or directory');
  const { charts, problems } = await loadChartPaths(positionals, chartLoadOptions());
  for (const problem of problems) process.stdout.write(`${formatProblem(problem)}\n`);
  for (const chart of charts) {
    for (const warning of chart.warnings ?? []) process.stdout.write(`${formatWarning(warning)}\n`);
    if (!problems.some((problem) => problem.file === chart.file)) {
      process.stdout.write(`ok ${chart.file}: chart ${chart.name} (${chart.dialect}, ${Object.keys(chart.states).length} states, version ${chart.version})\n`);
    }
  }
  if (problems.length) process.stdout.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} found\n`);
  return problems.length ? 1 : 0;
}
