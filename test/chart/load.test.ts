// Loading real chart files: the StateService README chart, a chartd chart with every state kind, directories, limits.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chartVersion, compileChart, loadChartFile, loadChartPaths, MAX_CHART_BYTES, parseChart } from '../../src/chart/load.js';
import { edgesOf, type GateState, type StepState } from '../../src/chart/model.js';
import { ChartInvalid, formatProblem } from '../../src/chart/problem.js';
import type { Handler } from '../../src/handlers/handler.js';
import { createRegistry } from '../../src/handlers/registry.js';
import { handlerRegistry } from '../../src/main.js';

const noop: Handler = {
  name: 'shell.noop',
  description: 'does nothing (test handler)',
  params: { type: 'object', required: ['path'], properties: { path: { type: 'string' }, label: {}, fiscal: {}, replicas: {} }, additionalProperties: false },
  run: async () => {},
};
const options = { handlers: createRegistry([noop]) };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chartd-load-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(load: () => Promise<unknown>): Promise<ChartInvalid> {
  try {
    await load();
  } catch (error) {
    if (error instanceof ChartInvalid) return error;
    throw error;
  }
  throw new Error('expected ChartInvalid');
}

describe('the StateService dialect', () => {
  it("loads the README's states.yaml unchanged as traffic-light", async () => {
    const chart = await loadChartFile('charts/traffic-light.yaml', options);
    expect(chart).toMatchObject({ name: 'traffic-light', dialect: 'stateservice', initial: 'green_state', file: 'charts/traffic-light.yaml' });
    expect(chart.states).toEqual({
      green_state: { kind: 'gate', name: 'green_state', line: 4, start: 0, count: 1, distinct: false, counterKey: 'count', next: 'red_state' },
      red_state: { kind: 'gate', name: 'red_state', line: 14, start: 0, count: 1, distinct: false, counterKey: 'count', next: 'blue_state' },
      blue_state: { kind: 'final', name: 'blue_state', line: 24 },
    });
    const source = await readFile('charts/traffic-light.yaml', 'utf8');
    expect(chart.source).toBe(source);
    expect(chart.version).toBe(createHash('sha256').update(Buffer.from(source)).digest('hex').slice(0, 16));
  });

  it('reads func: time as a timer at a naive local time or an ISO instant', () => {
    const source = [
      'current_state: state_1',
      'states:',
      '  - name: state_1',
      '    func: time',
      '    target: { name: state_2, when: { key: clock, value: 3000-01-01T02:00:00 } }',
      '  - name: state_2',
      '    func: time',
      '    target: { name: state_3, when: { key: clock, value: "3000-01-01T02:00:10+02:00" } }',
      '  - name: state_3',
    ].join('\n');
    const chart = parseChart(source, 'async.yaml', options);
    expect(chart.name).toBe('async');
    expect(chart.states['state_1']).toMatchObject({ kind: 'timer', atMs: new Date(3000, 0, 1, 2, 0, 0).getTime(), next: 'state_2' });
    expect(chart.states['state_2']).toMatchObject({ kind: 'timer', atMs: Date.UTC(3000, 0, 1, 0, 0, 10), next: 'state_3' });
  });

  it('counts from a non-zero start', () => {
    const source = 'current_state: a\nstates:\n  - {name: a, func: increment, current: {key: n, value: 2}, target: {name: b, when: {key: n, value: 5}}}\n  - {name: b}\n';
    const gate = parseChart(source, 'counted.yml', options).states['a'] as GateState;
    expect(gate).toMatchObject({ start: 2, count: 5, counterKey: 'n' });
    expect(edgesOf(gate)[0]?.label).toBe('count 3');
  });
});

describe('the chartd dialect', () => {
  it('loads a chart with every kind of state', async () => {
    const chart = await loadChartFile('test/fixtures/charts/good/every-kind.yaml', options);
    expect(chart).toMatchObject({
      name: 'every-kind', dialect: 'chartd', initial: 'window',
      description: 'One state of each kind, to show what the chartd dialect accepts.',
      failurePrefix: '{{release}} on {{db.host}}',
    });
    expect(chart.context?.['required']).toEqual(['release', 'db']);
    expect(chart.states['window']).toEqual({
      kind: 'timer', name: 'window', line: 16, description: 'Wait for the maintenance window.', atMs: Date.UTC(2026, 11, 1, 2), next: 'pause',
    });
    expect(chart.states['pause']).toEqual({ kind: 'timer', name: 'pause', line: 20, afterMs: 90_000, next: 'drain' });
    expect(chart.states['drain']).toEqual({
      kind: 'gate', name: 'drain', line: 23, start: 0, count: 3, distinct: true, counterKey: 'count', next: 'upgrade',
      on: { failed: 'rollback' }, timeout: { afterMs: 7_200_000, next: 'rollback' },
    });
    expect(chart.states['upgrade']).toEqual({
      kind: 'step', name: 'upgrade', line: 28, run: 'shell.noop',
      with: { path: '/srv/{{release}}/{{instance.id}}', label: '{{instance.created | stamp}}', fiscal: 'FY{{instance.created | fiscal_year:fiscal_year_end}}', replicas: 3 },
      retry: { attempts: 5, delayMs: 1000, backoff: 2, maxDelayMs: 60_000 }, timeoutMs: 600_000, onSuccess: 'verify', onFailure: 'rollback',
    } satisfies StepState);
    expect(chart.states['verify']).toEqual({ kind: 'event', name: 'verify', line: 39, on: { passed: 'done', failed: 'rollback' }, timeout: { afterMs: 3_600_000, next: 'rollback' } });
    expect(chart.states['rollback']).toMatchObject({ kind: 'step', retry: { attempts: 1, delayMs: 1000, backoff: 2, maxDelayMs: 60_000 }, timeoutMs: 3_600_000 });
    expect(chart.states['done']).toEqual({ kind: 'final', name: 'done', line: 43 });
  });

  it('freezes the chart all the way down', async () => {
    const chart = await loadChartFile('test/fixtures/charts/good/every-kind.yaml', options);
    const step = chart.states['upgrade'] as StepState;
    expect(Object.isFrozen(chart)).toBe(true);
    expect(Object.isFrozen(chart.states)).toBe(true);
    expect(Object.isFrozen(step.with)).toBe(true);
    expect(Object.isFrozen(step.retry)).toBe(true);
    expect(Object.isFrozen(chart.context?.['properties'])).toBe(true);
    expect(() => {
      (step.with as Record<string, unknown>)['path'] = '/elsewhere';
    }).toThrow(TypeError);
  });

  it('treats names like constructor and __proto__ as plain state and event names', () => {
    const source = (target: string) => [
      'chart: odd-names',
      'initial: constructor',
      'states:',
      '  constructor: { gate: { count: 1 }, next: __proto__ }',
      `  __proto__: { on: { toString: done, valueOf: ${target} } }`,
      '  done: { final: true }',
    ].join('\n');
    const chart = parseChart(source('done'), 'odd-names.yaml', options);
    expect(Object.keys(chart.states)).toEqual(['constructor', '__proto__', 'done']);
    expect(chart.states['__proto__']).toMatchObject({ kind: 'event', on: { toString: 'done', valueOf: 'done' } });
    expect(chart.states['toString']).toBeUndefined();
    expect(() => parseChart(source('hasOwnProperty'), 'odd-names.yaml', options)).toThrow(
      "odd-names.yaml:5: states.__proto__.on.valueOf: unknown target state 'hasOwnProperty' (known: constructor, __proto__, done)",
    );
  });

  it('refuses a custom tag instead of constructing it', () => {
    const attempt = () => parseChart('chart: x\ninitial: !!js/function "function () {}"\nstates: { done: { final: true } }\n', 'x.yaml', options);
    expect(attempt).toThrow(ChartInvalid);
    expect(attempt).toThrow("x.yaml:2: YAML tag '!!js/function' is not allowed");
  });
});

describe('retries', () => {
  const retrying = (retry: string) => compileChart(
    `chart: retrying\ninitial: work\nstates:\n  work:\n    run: shell.noop\n    with: { path: /x }\n    retry: ${retry}\n    on_success: done\n    on_failure: done\n  done: { final: true }\n`,
    'retrying.yaml', options,
  );

  it('load with a warning, at the retry\'s line, when a backoff the chart gives can never take effect', () => {
    expect(retrying('{ attempts: 3, delay: 1m, backoff: 2 }').notices.map(formatProblem)).toEqual([
      'retrying.yaml:7: states.work.retry.backoff: warning: backoff 2 never takes effect: max_delay (by default the larger of 1m and delay) is 1m, which caps every wait at delay 1m; set max_delay: 2m to let the waits grow as backoff says',
    ]);
    expect(retrying('{ attempts: 4, delay: 10s, backoff: 3, max_delay: 10s }').notices.map(formatProblem)).toEqual([
      'retrying.yaml:7: states.work.retry.backoff: warning: backoff 3 never takes effect: max_delay 10s caps every wait at delay 10s; set max_delay: 1m30s to let the waits grow as backoff says',
    ]);
    expect(retrying('{ attempts: 2, delay: 1s, backoff: 2 }').notices[0]?.message).toContain('with attempts: 2 there is at most one wait');
  });

  it('load quietly when the backoff grows the waits, is 1, or is the default; the defaults are backoff 2 and max_delay the larger of 1m and delay', () => {
    for (const retry of ['{ attempts: 3, delay: 1m, backoff: 2, max_delay: 2m }', '{ attempts: 3, delay: 10s, backoff: 2 }', '{ attempts: 2, delay: 1m, backoff: 1 }', '{ attempts: 3, delay: 1m }']) {
      expect(retrying(retry).notices, retry).toEqual([]);
    }
    expect((retrying('{ attempts: 3, delay: 10s }').chart.states['work'] as StepState).retry).toEqual({ attempts: 3, delayMs: 10_000, backoff: 2, maxDelayMs: 60_000 });
    expect((retrying('{ attempts: 3, delay: 2m }').chart.states['work'] as StepState).retry.maxDelayMs).toBe(120_000);
  });
});

describe('chartVersion', () => {
  it('is the first 16 hex digits of the sha256 of the UTF-8 bytes', () => {
    expect(chartVersion('')).toBe('e3b0c44298fc1c14');
    expect(chartVersion('chart: é\n')).toBe(createHash('sha256').update(Buffer.from('chart: é\n', 'utf8')).digest('hex').slice(0, 16));
    expect(chartVersion('a: 1\n')).not.toBe(chartVersion('a: 1 \n'));
  });
});

describe('file limits', () => {
  it('refuses a file over 1 MiB without parsing it', async () => {
    const file = join(dir, 'huge.yaml');
    await writeFile(file, `chart: huge\n# ${'x'.repeat(MAX_CHART_BYTES)}\n`);
    const error = await refusal(() => loadChartFile(file, options));
    expect(error.problems).toEqual([{ file, path: '', line: 0, message: expect.stringContaining('over the 1 MiB limit') }]);
  });

  it('accepts a file of exactly 1 MiB', async () => {
    const file = join(dir, 'big.yaml');
    const head = 'chart: big\ninitial: done\nstates: { done: { final: true } }\n# ';
    await writeFile(file, `${head}${'x'.repeat(MAX_CHART_BYTES - head.length - 1)}\n`);
    await expect(loadChartFile(file, options)).resolves.toMatchObject({ name: 'big' });
  });

  it('reports a missing file as a problem with its name', async () => {
    const file = join(dir, 'absent.yaml');
    const error = await refusal(() => loadChartFile(file, options));
    expect(error.message).toBe(`${file}: cannot read the chart file: no such file or directory`);
  });

  it('refuses text that is not UTF-8', async () => {
    const file = join(dir, 'latin1.yaml');
    await writeFile(file, Buffer.from([0x63, 0x68, 0x61, 0x72, 0x74, 0x3a, 0x20, 0xe9, 0x0a]));
    const error = await refusal(() => loadChartFile(file, options));
    expect(error.problems[0]?.message).toBe('the file is not valid UTF-8 text');
  });
});

describe('loadChartPaths', () => {
  it("loads a directory's .yaml and .yml files in name order, not its subdirectories", async () => {
    const { charts, problems } = await loadChartPaths(['test/fixtures/charts/dir'], options);
    expect(problems).toEqual([]);
    expect(charts.map((chart) => [chart.name, chart.file])).toEqual([
      ['a-first', join('test/fixtures/charts/dir', 'a-first.yaml')],
      ['second', join('test/fixtures/charts/dir', 'b-second.yml')],
    ]);
  });

  it('takes files and directories together, once each', async () => {
    const { charts, problems } = await loadChartPaths(['charts/traffic-light.yaml', 'test/fixtures/charts/dir', 'test/fixtures/charts/dir/a-first.yaml'], options);
    expect(problems).toEqual([]);
    expect(charts.map((chart) => chart.name)).toEqual(['traffic-light', 'a-first', 'second']);
  });

  it('reports two files declaring the same chart name, keeping the first', async () => {
    const { charts, problems } = await loadChartPaths(['test/fixtures/charts/duplicate-names'], options);
    expect(charts.map((chart) => chart.file)).toEqual([join('test/fixtures/charts/duplicate-names', 'one.yaml')]);
    expect(problems).toEqual([{
      file: join('test/fixtures/charts/duplicate-names', 'two.yaml'), path: 'chart', line: 2,
      message: `chart name 'same' is already declared by ${join('test/fixtures/charts/duplicate-names', 'one.yaml')}; chart names must be unique`,
    }]);
  });

  it('reports a StateService chart whose file name clashes with another chart', async () => {
    await writeFile(join(dir, 'traffic-light.yml'), await readFile('charts/traffic-light.yaml'));
    const { charts, problems } = await loadChartPaths(['charts/traffic-light.yaml', dir], options);
    expect(charts).toHaveLength(1);
    expect(problems).toEqual([expect.objectContaining({ line: 0, message: expect.stringContaining("chart name 'traffic-light' (taken from the file name) is already declared by charts/traffic-light.yaml") })]);
  });

  it('collects the problems of every file and still returns the charts that loaded', async () => {
    await writeFile(join(dir, 'good.yaml'), 'chart: good\ninitial: done\nstates: { done: { final: true } }\n');
    await writeFile(join(dir, 'bad.yaml'), 'chart: bad\ninitial: nowhere\nstates: { done: { final: true } }\n');
    const { charts, problems } = await loadChartPaths([dir, join(dir, 'missing')], options);
    expect(charts.map((chart) => chart.name)).toEqual(['good']);
    expect(problems).toEqual([
      { file: join(dir, 'missing'), path: '', line: 0, message: 'cannot read charts from here: no such file or directory' },
      { file: join(dir, 'bad.yaml'), path: 'initial', line: 2, message: "initial state 'nowhere' is not defined (known: done)" },
    ]);
  });

  it('loads every bundled chart with the handlers chartd registers, passing their tests by', async () => {
    const { charts, problems, notices } = await loadChartPaths(['charts'], { handlers: handlerRegistry() });
    expect(problems.map(formatProblem)).toEqual([]);
    expect(notices.filter((notice) => notice.level === 'warning').map(formatProblem)).toEqual([]);
    expect(charts.map((chart) => chart.name)).toEqual(['backup-and-encrypt', 'backup-request', 'rolling-upgrade', 'traffic-light']);
  });

  it('passes a directory\'s chart tests by, and says what a chart test named as a chart is', async () => {
    await writeFile(join(dir, 'a.yaml'), 'chart: a\ninitial: done\nstates: { done: { final: true } }\n');
    await writeFile(join(dir, 'a.test.yaml'), 'scenarios: []\n');
    await writeFile(join(dir, 'b.Test.yml'), 'scenarios: []\n');
    expect(await loadChartPaths([dir], options)).toMatchObject({ charts: [{ name: 'a' }], problems: [] });
    const { problems } = await loadChartPaths([join(dir, 'a.test.yaml')], options);
    expect(problems).toEqual([{ file: join(dir, 'a.test.yaml'), path: '', line: 0, message: 'this is a chart test file (NAME.test.yaml), not a chart; run it with chartd test' }]);
  });
});
