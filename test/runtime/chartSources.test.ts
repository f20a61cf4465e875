// The charts served, changed while serving: reload (all or nothing), apply over HTTP (kept in the store), delete.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEngine, type Engine } from '../../src/main.js';
import { APPLIED_CHARTS } from '../../src/runtime/appliedCharts.js';
import { INSTANCES } from '../../src/runtime/runtime.js';
import { SimulatedClock } from '../support/clock.js';
import { capturingLogger, gateChart, removeDir, tempDir, writeCharts, type LogLine } from '../support/server.js';

/** Version 1 goes green -> off; with `next`, green goes there first, through amber. */
const LIGHT = (next?: string) => `chart: light
initial: green
states:
  green: { gate: { count: 1 }, next: ${next ?? 'off'} }
${next ? '  amber: { gate: { count: 1 }, next: off }\n' : ''}  off: { final: true }
`;

const SETTLED = `chart: settled
initial: wait
settings:
  type: object
  properties: { root: { type: string } }
  required: [root]
states:
  wait: { gate: { count: 1 }, next: done }
  done: { final: true }
`;

let chartDir: string;
let dataDir: string;
let lines: LogLine[];
let engine: Engine | undefined;

beforeEach(async () => {
  [chartDir, dataDir] = await Promise.all([tempDir('chartd-charts-'), tempDir('chartd-data-')]);
  await writeCharts(chartDir, { 'light.yaml': LIGHT(), 'gates.yaml': gateChart(2) });
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await Promise.all([removeDir(chartDir), removeDir(dataDir)]);
});

async function start(valuesFile?: string): Promise<Engine> {
  const captured = capturingLogger();
  lines = captured.lines;
  engine = await startEngine({ chartPaths: [chartDir], dataDir, log: captured.log, clock: new SimulatedClock(), ...(valuesFile ? { valuesFile } : {}) });
  return engine;
}

describe('reload', () => {
  it('serves new versions to new instances while running ones stay on theirs, adds charts and drops idle ones', async () => {
    const { runtime, sources } = await start();
    const before = runtime.chart('light').version;
    await runtime.create('light', 'old', {});
    await writeCharts(chartDir, { 'light.yaml': LIGHT('amber'), 'extra.yaml': gateChart(1).replace('chart: gates', 'chart: extra') });
    await removeDir(join(chartDir, 'gates.yaml'));
    // gates has only its default instance, waiting: the reload is refused until it is finished.
    await expect(sources.reload('test')).rejects.toMatchObject({ status: 400, code: 'reload_refused', problems: [
      `${join(chartDir, 'gates.yaml')}: chart gates would no longer be served, but 1 of its instances are active; keep declaring it until they finish, or cancel them (POST /charts/gates/instances/ID/cancel)`,
    ] });
    expect(runtime.chartNames()).toEqual(['gates', 'light']);
    await runtime.cancel('gates', 'default', { reason: 'retired' });
    const changes = await sources.reload('SIGHUP');
    expect(changes).toEqual({ added: ['extra'], changed: [{ name: 'light', from: before, to: runtime.chart('light').version }], removed: ['gates'] });
    expect(runtime.chartNames()).toEqual(['extra', 'light']);
    // The old instance finishes by its version's rules; a new one takes the new path.
    expect((await runtime.apply('light', 'old', { type: 'put', state: 'green' })).snapshot).toMatchObject({ state: 'off', version: before });
    await runtime.create('light', 'new', {});
    expect((await runtime.apply('light', 'new', { type: 'put', state: 'green' })).snapshot).toMatchObject({ state: 'amber' });
    // A chart added by the reload gets its default instance, as at start-up.
    expect((await runtime.snapshot('extra', 'default')).state).toBe('wait');
    expect(lines.some((line) => line.msg === 'charts reloaded (SIGHUP): added extra; new versions of light; removed gates')).toBe(true);
  });

  it('changes nothing when any chart has a problem, and names every problem of every file', async () => {
    const { runtime, sources } = await start();
    const version = runtime.chart('light').version;
    await writeCharts(chartDir, {
      'light.yaml': LIGHT('nowhere'),
      'broken.yaml': 'chart: broken\ninitial: a\nstates:\n  a: { gate: { count: 0 }, next: b }\n',
    });
    const refusal = await sources.reload('test').then(() => undefined, (error: { problems: string[] }) => error);
    const broken = join(chartDir, 'broken.yaml');
    const light = join(chartDir, 'light.yaml');
    expect(refusal?.problems).toEqual([
      `${broken}:4: states.a.gate.count: gate count must be a whole number of at least 1 (the PUTs needed to open it)`,
      `${broken}:4: states.a.next: unknown target state 'b' (known: a)`,
      `${light}:4: states.green.next: unknown target state 'nowhere' (known: green, amber, off)`,
      `${light}:5: states.amber: state 'amber' is unreachable from the initial state 'green'`,
      `${light}:6: states.off: state 'off' is unreachable from the initial state 'green'`,
    ]);
    expect(runtime.chart('light').version).toBe(version);
    expect(runtime.chartNames()).toEqual(['gates', 'light']);
    for (const problem of refusal!.problems) expect(lines.some((line) => line.msg === `reload refused: ${problem}`)).toBe(true);
  });

  it('reads --values again: a chart whose settings are bound now creates instances; a values file with a problem refuses the reload', async () => {
    const values = join(dataDir, '..', `values-${Date.now()}.yaml`);
    await writeFile(values, 'charts: {}\n');
    const { runtime, sources } = await start(values);
    await writeCharts(chartDir, { 'settled.yaml': SETTLED });
    await writeFile(values, 'charts: { settled: { root: 7 } }\n');
    await expect(sources.reload('test')).rejects.toMatchObject({ problems: [`${values}:1: charts.settled.root: must be string`] });
    await writeFile(values, 'charts: { settled: { root: /srv } }\n');
    await sources.reload('test');
    expect((await runtime.create('settled', 'one', {})).snapshot.settings).toEqual({ root: '/srv' });
    await removeDir(values);
  });
});

describe('charts applied over HTTP', () => {
  it('are validated, kept in the store, served at once and again after a restart; a --chart file of the same name wins', async () => {
    const first = await start();
    const refused = await first.sources.apply('deploy', 'chart: deploy\ninitial: a\nstates:\n  a: { gate: { count: 1 }, next: nowhere }\n', 'ops')
      .then(() => undefined, (error: { status: number; problems: string[] }) => error);
    expect(refused).toMatchObject({ status: 400, problems: [
      'PUT /charts/deploy:3: states: the chart has no final state; mark at least one state final: true',
      "PUT /charts/deploy:4: states.a.next: unknown target state 'nowhere' (known: a)",
    ] });
    const applied = await first.sources.apply('deploy', gateChart(1).replace('chart: gates', 'chart: deploy'), 'ops');
    expect(applied).toMatchObject({ created: true, unchanged: false });
    expect((await first.runtime.snapshot('deploy', 'default')).state).toBe('wait');
    expect((await first.store.get(APPLIED_CHARTS, 'deploy'))?.value).toMatchObject({ name: 'deploy', version: applied.chart.version, token: 'ops' });
    expect(await first.sources.apply('deploy', applied.chart.source, 'ops')).toMatchObject({ created: false, unchanged: true });
    await expect(first.sources.apply('light', LIGHT(), 'ops')).rejects.toMatchObject({ status: 409, code: 'chart_in_file' });
    await expect(first.sources.apply('other', applied.chart.source, 'ops')).rejects.toMatchObject({
      problems: ['PUT /charts/other: chart: the chart is named deploy; apply it as PUT /charts/deploy, or rename it'],
    });

    await engine!.close();
    const again = await start();
    expect(again.runtime.chart('deploy').version).toBe(applied.chart.version);
    await engine!.close();
    await writeCharts(chartDir, { 'deploy.yaml': gateChart(3).replace('chart: gates', 'chart: deploy') });
    const shadowed = await start();
    expect(shadowed.runtime.chart('deploy').file).toBe(join(chartDir, 'deploy.yaml'));
    expect(lines.some((line) => line.msg.includes('chart deploy was also applied over HTTP') && line.msg.includes('this file wins'))).toBe(true);
  });

  it('are deleted only without active instances, or with them cancelled first, each saying why; finished ones stay stored', async () => {
    const { runtime, sources, store } = await start();
    await sources.apply('deploy', gateChart(1).replace('chart: gates', 'chart: deploy'), 'ops');
    await runtime.create('deploy', 'done', {});
    await runtime.apply('deploy', 'done', { type: 'put', state: 'wait' });
    await expect(sources.remove('deploy', { cancelActive: false })).rejects.toMatchObject({ status: 409, code: 'chart_has_active_instances' });
    await expect(sources.remove('light', { cancelActive: true })).rejects.toMatchObject({ status: 409, code: 'chart_in_file' });
    expect(await sources.remove('deploy', { cancelActive: true, reason: 'replaced', token: 'ops' })).toMatchObject({ cancelled: 1 });
    expect(runtime.chartNames()).toEqual(['gates', 'light']);
    expect(await store.get(APPLIED_CHARTS, 'deploy')).toBeUndefined();
    expect((await store.get(INSTANCES, 'deploy/default'))?.value).toMatchObject({ status: 'cancelled', cancelled: { reason: 'chart deploy was deleted: replaced', token: 'ops' } });
    expect((await store.get(INSTANCES, 'deploy/done'))?.value).toMatchObject({ status: 'done' });
  });
});
