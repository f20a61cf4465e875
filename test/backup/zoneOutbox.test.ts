// The zone's outbox as the zone-outbox service: results wait until it starts, it fails while the controller is unreachable, and runs again once results go through.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/backup/secret.js';
import { ZoneOutbox } from '../../src/backup/zone/zoneOutbox.js';
import type { ZoneResult } from '../../src/backup/zone.js';
import { createHttpClient, type HttpClient } from '../../src/net/httpClient.js';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import type { Store } from '../../src/store/port.js';
import { SimulatedClock } from '../support/clock.js';
import { capturingLogger, removeDir, tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { freePort } from './support/world.js';

const RESULT: ZoneResult = { requestId: 'r1', zone: 'local', ok: false, failures: ['Failure: x: y'], startedAt: '2026-11-22T06:00:00.000Z', finishedAt: '2026-11-22T06:01:00.000Z' };

let dir: string | undefined;
let store: Store | undefined;
let client: HttpClient | undefined;
let controller: Server | undefined;

afterEach(async () => {
  if (controller?.listening) await new Promise((resolve) => controller!.close(resolve));
  await client?.close();
  await store?.close();
  if (dir) await removeDir(dir);
});

describe('the zone-outbox service', () => {
  it('holds results until started, fails while the controller takes none, and works again once one goes through', async () => {
    dir = await tempDir('chartd-outbox-');
    store = await openLowdbStore(dir);
    client = await createHttpClient();
    const port = await freePort();
    const clock = new SimulatedClock();
    const { log, lines } = capturingLogger();
    const outbox = new ZoneOutbox({
      store, controllerUrl: `http://127.0.0.1:${port}`, token: new Secret('t'.repeat(32), 'test'), fetch: client.fetch, log, clock,
      maxDelayMs: 60_000, timeoutMs: 1000, onDelivered: () => Promise.resolve([]),
    });
    const service = outbox.service();
    expect(service.name).toBe('zone-outbox');

    await outbox.put(RESULT, RESULT.finishedAt, []);
    expect(outbox.size).toBe(1);
    expect(service.failure()).toBeUndefined();

    await service.start();
    // Each failed attempt waits on the clock: time moves only when the test moves it.
    await until(() => lines.some((line) => line.msg === 'zone result not delivered yet; trying again'), 'the first failed attempt');
    const retries = () => lines.filter((line) => line.msg === 'zone result not delivered yet; trying again');
    // A refused connection takes a millisecond; the next attempt waits for the clock, however long the test waits.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(retries()).toHaveLength(1);
    await until(async () => {
      await clock.advance(1_000);
      return service.failure() !== undefined;
    }, 'the outbox to fail');
    expect(service.failure()).toMatch(/^the controller did not take the last \d+ attempts to deliver a result \(last: controller http:\/\/127\.0\.0\.1:\d+ cannot be reached at .*\/zone-results: ECONNREFUSED\); 1 results are in the outbox$/);

    const received: string[] = [];
    controller = createServer((req, res) => {
      received.push(String(req.headers['x-request-id']));
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
    await new Promise<void>((resolve) => controller!.listen(port, '127.0.0.1', resolve));
    // What the supervisor does: stop, then start; the result goes at once.
    await service.stop();
    await service.start();
    await until(() => outbox.size === 0, 'the result to be delivered');
    expect(received).toContain('r1');
    expect(service.failure()).toBeUndefined();
    await service.stop();
  });
});
