// If-None-Match: a client that holds the current snapshot, chart or diagram gets 304 and no body; any change, a new ETag.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startTestServer, tempDir, TRAFFIC_LIGHT, writeCharts, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  const chartDir = await tempDir('chartd-charts-');
  await writeCharts(chartDir, { 'traffic-light.yaml': TRAFFIC_LIGHT });
  server = await startTestServer({ chartDir, dataDir: await tempDir('chartd-data-') });
});
afterAll(async () => {
  await server?.close();
  await removeDir(server?.chartDir);
  await removeDir(server?.dataDir);
});

const get = (path: string, etag?: string) => fetch(`${server.url}${path}`, { headers: etag ? { 'if-none-match': etag } : {} });

describe('If-None-Match', () => {
  const cases: [string, boolean][] = [
    ['/charts/traffic-light/instances/ID', true], ['/charts/traffic-light', true], ['/charts', true],
    ['/charts/traffic-light/instances/ID/diagram.svg', true], ['/charts/traffic-light/diagram.mmd', false],
  ];
  let made = 0;
  for (const [template, changes] of cases) {
    it(`${template}: 304 while nothing changed, then ${changes ? '200 with a new ETag once the instance moved' : 'still 304, as instances do not change the chart'}`, async () => {
      const id = `run-${(made += 1)}`;
      await server.engine.runtime.create('traffic-light', id, {});
      const path = template.replace('ID', id);
      const first = await get(path);
      expect(first.status).toBe(200);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[^"]+"$/);
      await first.arrayBuffer();
      const again = await get(path, etag);
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
      expect((await get(path, `W/${etag}, "other"`)).status).toBe(304);
      expect((await get(path, '*')).status).toBe(304);
      expect((await get(path, '"other"')).status).toBe(200);

      // A check-in moves the instance (green to red) and adds a revision; a new instance changes every chart count.
      await server.engine.runtime.apply('traffic-light', id, { type: 'put', state: 'green_state' });
      await server.engine.runtime.create('traffic-light', `${id}-sibling`, {});
      const after = await get(path, etag);
      expect(after.status, path).toBe(changes ? 200 : 304);
      if (changes) expect(after.headers.get('etag')).not.toBe(etag);
    });
  }
});
