import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../support/child.js';
import { removeDir, sleep, tempDir } from '../support/server.js';

// kill -9 the server at random moments under concurrent PUTs; every acknowledged PUT must survive.
const ROUNDS = Number(process.env['CHARTD_CRASH_ROUNDS'] ?? 10);
const CLIENTS = 12;

const CHART = `chart: crashy
initial: counting
states:
  counting:
    gate: { count: 100000000 }
    next: done
  done:
    final: true
`;

let chartDir: string;
let dataDir: string;

beforeAll(async () => {
  chartDir = await tempDir('chartd-crash-charts-');
  dataDir = await tempDir('chartd-crash-data-');
  await writeFile(join(chartDir, 'crashy.yaml'), CHART);
});

afterAll(async () => {
  await removeDir(chartDir);
  await removeDir(dataDir);
});

async function counter(url: string, instance: string): Promise<number> {
  const answer = await fetch(`${url}/charts/crashy/instances/${instance}`);
  expect(answer.status).toBe(200);
  return ((await answer.json()) as { counter: number }).counter;
}

describe('kill -9 under concurrent PUTs', () => {
  it(`loses no acknowledged change over ${ROUNDS} crashes`, async () => {
    let acknowledged = { default: 0, spread: 0 };
    let unanswered = 0;
    let first = true;
    for (let round = 0; round < ROUNDS; round += 1) {
      const server = await spawnServer(['--chart', chartDir, '--data', dataDir]);
      if (first) {
        const created = await fetch(`${server.url}/charts/crashy/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"spread"}' });
        expect(created.status).toBe(201);
        first = false;
      }
      // What the store holds after a crash must be at least what was acknowledged before it.
      expect(await counter(server.url, 'default')).toBeGreaterThanOrEqual(acknowledged.default);
      expect(await counter(server.url, 'spread')).toBeGreaterThanOrEqual(acknowledged.spread);
      acknowledged = { default: await counter(server.url, 'default'), spread: await counter(server.url, 'spread') };
      let stop = false;
      const client = async (index: number): Promise<void> => {
        const instance = index % 3 === 0 ? 'spread' : 'default';
        while (!stop) {
          try {
            const answer = await fetch(`${server.url}/charts/crashy/instances/${instance}/state?state=counting`, { method: 'PUT' });
            await answer.text();
            if (answer.status === 200) acknowledged[instance] += 1;
            else throw new Error(`unexpected ${answer.status}`);
          } catch {
            unanswered += 1;
            return;
          }
        }
      };
      const clients = Array.from({ length: CLIENTS }, (_, index) => client(index));
      await sleep(150 + Math.floor(Math.random() * 400));
      await server.kill('SIGKILL');
      stop = true;
      await Promise.all(clients);
    }
    const last = await spawnServer(['--chart', chartDir, '--data', dataDir]);
    try {
      const stored = { default: await counter(last.url, 'default'), spread: await counter(last.url, 'spread') };
      expect(stored.default).toBeGreaterThanOrEqual(acknowledged.default);
      expect(stored.spread).toBeGreaterThanOrEqual(acknowledged.spread);
      // Only requests cut off by a crash may have landed without an answer.
      expect(stored.default + stored.spread).toBeLessThanOrEqual(acknowledged.default + acknowledged.spread + unanswered);
      expect(acknowledged.default).toBeGreaterThan(ROUNDS * 10);
    } finally {
      await last.kill();
    }
  }, Math.max(120_000, ROUNDS * 3000));
});
