// Hostile clients against `chartd serve` started as an operator starts it: seeded random malformed requests never get
// a 5xx, never log a fault and never change what is stored, and the worst of them do not stall a plain GET beside them.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { BODY_DEPTH_LIMIT } from '../../src/http/params.js';
import { spawnServer, type ChildServer } from '../support/child.js';
import { deepBody, hostileRequest, seededRandom, widestBodyAtDepth } from '../support/hostile.js';
import { exchange, type RawRequest } from '../support/rawHttp.js';
import { ERROR_LEVEL, gateChart, removeDir, tempDir, writeCharts, type LogLine } from '../support/server.js';

/** Random unless given, and printed: CHARTD_HOSTILE_SEED=N repeats a run. */
const SEED = Number(process.env['CHARTD_HOSTILE_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const REQUESTS = 2500;
const CONCURRENCY = 16;
/** The stall check: a GET must answer this fast beside that many hostile requests at once. */
const GET_WITHIN_MS = 100;
const HOSTILE_BESIDE = 20;

let chartDir: string;
let dataDir: string;
let server: ChildServer;
/** A second server, with --auth: reads are open, and some hostile requests carry its write token. */
let guarded: ChildServer;
const writeToken = newToken();

beforeAll(async () => {
  chartDir = await tempDir('chartd-charts-');
  dataDir = await tempDir('chartd-data-');
  await writeCharts(chartDir, { 'gates.yaml': gateChart(3) });
  await writeFile(join(dataDir, 'auth.yaml'), `reads: open\ntokens:\n  writer: { hash: '${hashOf(writeToken)}', scopes: [read, write] }\n`);
  [server, guarded] = await Promise.all([
    spawnServer(['--chart', chartDir, '--data', join(dataDir, 'open'), '--log-level', 'debug']),
    spawnServer(['--chart', chartDir, '--data', join(dataDir, 'guarded'), '--log-level', 'debug', '--auth', join(dataDir, 'auth.yaml')]),
  ]);
});

afterAll(async () => {
  await Promise.all([server?.kill(), guarded?.kill()]);
  await removeDir(chartDir);
  await removeDir(dataDir);
});

const port = (of = server): number => Number(new URL(of.url).port);

/** The server's pino log lines at error level or above. */
function faults(of = server): LogLine[] {
  const lines = of.stderr().split('\n').filter((line) => line.startsWith('{') && line.endsWith('}'));
  return lines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.level >= ERROR_LEVEL);
}

/** What hostile requests must never change: the default instance and how many instances there are. */
async function stored(of = server): Promise<unknown> {
  const instance = (await (await fetch(`${of.url}/charts/gates/instances/default`)).json()) as { revision: number; counter: number; updatedAt: string };
  const chart = (await (await fetch(`${of.url}/charts/gates`)).json()) as { instances: number };
  return { revision: instance.revision, counter: instance.counter, updatedAt: instance.updatedAt, instances: chart.instances };
}

async function expectServing(of = server): Promise<void> {
  const answer = await exchange(port(of), { method: 'GET', target: '/charts/gates/state?state=wait' });
  expect(answer.status).toBe(200);
}

/** Sends REQUESTS seeded hostile requests to `of`, CONCURRENCY at a time, and checks what the test title says. */
async function fuzz(of: ChildServer, token?: string): Promise<void> {
  console.log(`hostile requests: seed ${SEED} (CHARTD_HOSTILE_SEED=${SEED} repeats this run)`);
  const before = await stored(of);
  const random = seededRandom(SEED);
  const requests = Array.from({ length: REQUESTS }, () => hostileRequest(random, token));
  const problems: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let index = next++; index < requests.length; index = next++) {
      const hostile = requests[index]!;
      const answer = await exchange(port(of), hostile.request);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status >= 500 || (answer.status === 0 && !hostile.answerOptional)) {
        problems.push(`#${index} ${hostile.label}: answered ${answer.status} ${answer.body.slice(0, 300)}`);
      }
    }
  }));
  console.log(`hostile requests: answers by status ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
  expect(problems.slice(0, 20), `seed ${SEED}: ${problems.length} answered wrongly (the first 20 shown)`).toEqual([]);
  await expectServing(of);
  expect(await stored(of), `seed ${SEED}`).toEqual(before);
  expect(faults(of), `seed ${SEED}`).toEqual([]);
}

describe('hostile requests', () => {
  it(`answers ${REQUESTS} seeded hostile requests without a 5xx, a logged fault or a change to what is stored`, () => fuzz(server), 60_000);

  it('does the same behind --auth, with garbage, unknown and valid tokens among them', () => fuzz(guarded, writeToken), 60_000);

  it(`answers a GET within ${GET_WITHIN_MS} ms beside ${HOSTILE_BESIDE} concurrent requests of the costliest kinds it still reads`, async () => {
    const json: [string, string][] = [['Content-Type', 'application/json']];
    const worst: RawRequest[] = [
      { method: 'POST', target: '/charts/gates/instances', headers: json, body: widestBodyAtDepth(BODY_DEPTH_LIMIT) },
      { method: 'POST', target: '/charts/gates/instances', headers: json, body: deepBody(BODY_DEPTH_LIMIT + 1) },
      { method: 'GET', target: `/charts/gates/state?state=open&wait=${'1'.repeat(15_000)}x` },
      { method: 'PUT', target: `/state?${'by=a&'.repeat(2000)}state=open` },
    ];
    // Best of three: other work on a loaded machine can slow one round; a server that stalls is slow in every one.
    const medians: number[] = [];
    for (let round = 0; round < 3 && !medians.some((median) => median < GET_WITHIN_MS); round++) medians.push(await medianGetBeside(worst));
    console.log(`stall check: median GET of each round ${medians.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    expect(Math.min(...medians)).toBeLessThan(GET_WITHIN_MS);
    expect(faults()).toEqual([]);
  }, 120_000);
});

/** The median time of 9 GETs, one after another, while HOSTILE_BESIDE clients send `worst` without pause. */
async function medianGetBeside(worst: readonly RawRequest[]): Promise<number> {
  let running = true;
  let answered = 0;
  const clients = Array.from({ length: HOSTILE_BESIDE }, async (_, client) => {
    for (let sent = client; running; sent++) {
      const answer = await exchange(port(), worst[sent % worst.length]!);
      expect(answer.status).toBeLessThan(500);
      answered += 1;
    }
  });
  try {
    while (answered < HOSTILE_BESIDE) await new Promise((resolve) => setTimeout(resolve, 5));
    const times: number[] = [];
    for (let get = 0; get < 9; get++) {
      const started = performance.now();
      await expectServing();
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b)[4]!;
  } finally {
    running = false;
    await Promise.all(clients);
  }
}
