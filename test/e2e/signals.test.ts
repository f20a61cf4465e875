// The real `chartd serve` and signals: SIGHUP reloads the charts (a broken one changes nothing), and no signal, nor two
// in a row, leaves the data directory's LOCK behind.

import { access, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from '../support/child.js';
import { gateChart, removeDir, tempDir, writeCharts } from '../support/server.js';
import { until } from '../support/wait.js';

let dir: string;
let chartDir: string;
let dataDir: string;
let server: ChildServer | undefined;

beforeEach(async () => {
  dir = await tempDir('chartd-signals-');
  chartDir = join(dir, 'charts');
  dataDir = join(dir, 'data');
  await import('node:fs/promises').then(({ mkdir }) => mkdir(chartDir));
  await writeCharts(chartDir, { 'gates.yaml': gateChart(2) });
});

afterEach(async () => {
  await server?.kill('SIGKILL');
  server = undefined;
  await removeDir(dir);
});

async function start(): Promise<ChildServer> {
  server = await spawnServer(['--chart', chartDir, '--data', dataDir, '--log-level', 'info']);
  return server;
}

async function versionOf(url: string, chart: string): Promise<string> {
  const answer = await fetch(`${url}/charts/${chart}`);
  return ((await answer.json()) as { version: string }).version;
}

/** Whether the data directory holds a LOCK (or a LOCK's temp file). */
async function locked(): Promise<boolean> {
  const names = await readdir(dataDir);
  return names.some((name) => name === 'LOCK' || name.startsWith('.LOCK.'));
}

async function exited(child: ChildServer): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.child.exitCode === null && child.child.signalCode === null) await new Promise((resolve) => child.child.once('exit', resolve));
  return { code: child.child.exitCode, signal: child.child.signalCode };
}

describe('SIGHUP', () => {
  it('reloads the charts: a new version is served, a broken chart changes nothing and is logged, and the server keeps serving', async () => {
    const { url, child, stderr } = await start();
    const first = await versionOf(url, 'gates');
    await writeFile(join(chartDir, 'next.yaml'), gateChart(5));
    await rename(join(chartDir, 'next.yaml'), join(chartDir, 'gates.yaml'));
    child.kill('SIGHUP');
    await until(async () => (await versionOf(url, 'gates')) !== first, 'the new version served');
    expect(stderr()).toContain('charts reloaded (SIGHUP): new versions of gates');

    const second = await versionOf(url, 'gates');
    await writeCharts(chartDir, { 'broken.yaml': 'chart: broken\ninitial: a\nstates:\n  a: { gate: { count: 1 }, next: nowhere }\n' });
    child.kill('SIGHUP');
    await until(() => stderr().includes('reload refused'), 'the refusal logged');
    expect(stderr()).toContain(`reload refused: ${join(chartDir, 'broken.yaml')}:4: states.a.next: unknown target state 'nowhere'`);
    expect(await versionOf(url, 'gates')).toBe(second);
    expect((await fetch(`${url}/charts/broken`)).status).toBe(404);
    expect(child.exitCode).toBeNull();
    expect(await locked()).toBe(true);
  });
});

describe('no signal leaves the LOCK behind', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} stops the server cleanly: exit 0, no LOCK`, async () => {
      const child = await start();
      expect(await locked()).toBe(true);
      child.child.kill(signal);
      expect(await exited(child)).toEqual({ code: 0, signal: null });
      expect(await locked()).toBe(false);
    });
  }

  it('SIGHUP leaves it running and holding its LOCK, which SIGTERM then releases', async () => {
    const child = await start();
    child.child.kill('SIGHUP');
    await until(() => child.stderr().includes('charts reloaded (SIGHUP)'), 'the reload');
    expect(child.child.exitCode).toBeNull();
    await access(join(dataDir, 'LOCK'));
    child.child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(await locked()).toBe(false);
  });

  it('two stop signals in a row end it (at once, if the second comes while it stops) without a LOCK; the next start needs no take-over', async () => {
    for (const signals of [['SIGINT', 'SIGINT'], ['SIGTERM', 'SIGINT'], ['SIGHUP', 'SIGTERM', 'SIGTERM']] as const) {
      const child = await start();
      for (const signal of signals) child.child.kill(signal);
      const end = await exited(child);
      expect([0, 130, 143], `${signals.join(' ')}: ${JSON.stringify(end)}`).toContain(end.code);
      expect(await locked(), signals.join(' ')).toBe(false);
    }
    const again = await start();
    expect(again.stderr()).not.toContain('took over data directory');
  });
});
