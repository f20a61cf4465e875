// `chartd test [FILE|DIR]…`: runs chart tests (NAME.test.yaml) on the pure engine; exit code = failed scenarios.

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isScenarioFile } from '../../chart/load.js';
import { ChartInvalid, formatProblem, type Problem } from '../../chart/problem.js';
import { chartLoadOptions, handlerRegistry } from '../../main.js';
import { InputChecker } from '../../runtime/inputChecker.js';
import { runScenario, type ScenarioResult } from '../../simulation/runScenario.js';
import { loadScenarioFile } from '../../simulation/scenario.js';
import { ChartdCommand } from '../command.js';
import { formatValue } from '../format.js';

interface Report {
  readonly results: ScenarioResult[];
  /** Test files that could not be run: their problems, or their chart's. */
  readonly problems: Problem[];
  /** Charts in the directories searched without a test file. */
  readonly untested: string[];
  readonly ms: number;
}

export function command(): ChartdCommand {
  return new ChartdCommand('test')
    .usage('[FILE|DIR]... [--json]')
    .description(`Runs the scenarios of chart tests: NAME.test.yaml beside the chart NAME.yaml. Each
scenario creates an instance and takes it through its steps (put, event, advance,
succeed, fail) on the engine with a simulated clock -- no server, no store, no
handler runs -- checking each expect: on the way.

Prints each scenario as ok or FAIL; a failure names the step, the file:line of the
expectation that failed, what was expected and what happened. Exits with the number
of failed scenarios (a test file that cannot be read counts one). See docs/authoring.md.`)
    .operand('FILE|DIR', 'a chart test file, a chart (its NAME.test.yaml is run), or a directory: every *.test.yaml in it (default: charts)', { many: true, required: false })
    .accept('--json', 'one JSON document on standard output, for CI')
    .example('chartd test', 'chartd test charts/rolling-upgrade.yaml --json')
    .run(test);
}

async function test(given: { json?: boolean }, paths: string[]): Promise<number> {
  const started = performance.now();
  const { files, problems, untested } = await findTestFiles(paths.length ? paths : ['charts']);
  const handlers = handlerRegistry();
  const options = chartLoadOptions(handlers);
  const inputs = new InputChecker();
  const results: ScenarioResult[] = [];
  let broken = problems.length;
  for (const file of files) {
    try {
      const tests = await loadScenarioFile(file, options, inputs);
      for (const scenario of tests.scenarios) results.push(runScenario(tests, scenario, handlers));
    } catch (error) {
      if (!(error instanceof ChartInvalid)) throw error;
      problems.push(...error.problems);
      broken += 1;
    }
  }
  const report = { results, problems, untested, ms: performance.now() - started };
  process.stdout.write(given.json ? `${JSON.stringify(jsonReport(report), null, 2)}\n` : textReport(report));
  return Math.min(results.filter((result) => !result.passed).length + broken, 125);
}

/** Test files named or found in directories; a chart named directly is tested by the file beside it. */
async function findTestFiles(paths: string[]): Promise<{ files: string[]; problems: Problem[]; untested: string[] }> {
  const files: string[] = [];
  const problems: Problem[] = [];
  const untested: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch {
      problems.push({ file: path, path: '', line: 0, message: 'no such file or directory' });
      continue;
    }
    if (!info.isDirectory()) {
      const file = isScenarioFile(path) ? path : await testFileOf(path);
      if (file) files.push(file);
      else problems.push({ file: path, path: '', line: 0, message: `no test file beside this chart: write ${path.replace(/\.ya?ml$/i, '')}.test.yaml` });
      continue;
    }
    const names = (await readdir(path)).sort();
    files.push(...names.filter(isScenarioFile).map((name) => join(path, name)));
    for (const name of names.filter((each) => /\.ya?ml$/i.test(each) && !isScenarioFile(each))) {
      if (!(await testFileOf(join(path, name)))) untested.push(join(path, name));
    }
  }
  return { files, problems, untested };
}

async function testFileOf(chartFile: string): Promise<string | undefined> {
  const base = chartFile.replace(/\.ya?ml$/i, '');
  for (const candidate of [`${base}.test.yaml`, `${base}.test.yml`]) {
    if (await stat(candidate).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

function textReport({ results, problems, untested, ms }: Report): string {
  const lines: string[] = [];
  let file: string | undefined;
  for (const result of results) {
    if (result.file !== file) {
      file = result.file;
      lines.push(`${file} (chart ${result.chart})`);
    }
    if (result.passed) {
      lines.push(`  ok    ${result.name}`);
      continue;
    }
    const failure = result.failure!;
    lines.push(`  FAIL  ${result.name}`);
    lines.push(`        ${result.file}:${failure.line}: step ${failure.step} (${failure.text})${failure.message ? `: ${failure.message}` : ''}`);
    for (const mismatch of failure.mismatches) {
      lines.push(`        ${result.file}:${mismatch.line}: expect ${mismatch.key}`);
      lines.push(`          expected: ${formatValue(mismatch.expected)}`);
      lines.push(`          got:      ${formatValue(mismatch.got)}`);
    }
    lines.push(`        path: ${result.path.join(' -> ')}`);
  }
  for (const problem of problems) lines.push(formatProblem(problem));
  for (const chart of untested) lines.push(`no tests: ${chart}`);
  const failed = results.filter((result) => !result.passed).length;
  const unreadable = problems.length ? `, ${new Set(problems.map((problem) => problem.file)).size} test file(s) with problems` : '';
  lines.push(`${results.length} scenario${results.length === 1 ? '' : 's'}: ${results.length - failed} passed, ${failed} failed${unreadable} (${Math.round(ms)} ms)`);
  return `${lines.join('\n')}\n`;
}

function jsonReport({ results, problems, untested, ms }: Report): unknown {
  const failed = results.filter((result) => !result.passed).length;
  return { passed: results.length - failed, failed, problems, untested, ms: Math.round(ms), scenarios: results };
}
