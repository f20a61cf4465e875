// A fresh `npm start` left alone: the bundled charts, an hour on a simulated clock, and nothing at error level.
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../support/clock.js';
import { capturingLogger, ERROR_LEVEL, removeDir, startTestServer, tempDir, type TestServer } from '../support/server.js';

let server: TestServer | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  await server?.close();
  if (dataDir) await removeDir(dataDir);
});

describe('a first start with the bundled charts', () => {
  it('logs nothing at error level in its first hour; only charts that need no input have a default instance', async () => {
    const { log, lines } = capturingLogger('debug');
    const clock = new SimulatedClock();
    dataDir = await tempDir('chartd-first-run-');
    server = await startTestServer({ chartDir: 'charts', dataDir, log, clock, defaultChart: 'traffic-light' });
    const { runtime } = server.engine;
    for (let minute = 0; minute < 60; minute += 1) await clock.advance(60_000, () => runtime.whenIdle());

    expect(lines.filter((line) => line.level >= ERROR_LEVEL).map((line) => line.msg)).toEqual([]);
    const names = server.engine.charts.map((chart) => chart.name);
    const found = await Promise.all(names.map((name) => runtime.find(name, 'default')));
    const defaults = names.filter((_name, at) => found[at]);
    expect(defaults).toEqual(['traffic-light']);
    // rolling-upgrade needs a release to name its runs: it waits for a POST with one.
    expect(await runtime.instanceCount('rolling-upgrade')).toBe(0);
  });
});
