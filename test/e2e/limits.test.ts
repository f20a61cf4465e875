// What the server refuses of hostile input, and that refusing it costs the server nothing: nesting depth,
// methods no route takes, clients that hang up mid-body, and a chart's instance quota.

import { spawnSync } from 'node:child_process';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BODY_DEPTH_LIMIT } from '../../src/http/params.js';
import { MAX_CONTEXT_DEPTH } from '../../src/runtime/inputChecker.js';
import { capturingLogger, ERROR_LEVEL, gateChart, removeDir, startTestServer, tempDir, writeCharts, type LogLine, type TestServer } from '../support/server.js';
import { CLI, spawnServer } from '../support/child.js';
import { exchange } from '../support/rawHttp.js';
import { until } from '../support/wait.js';

let chartDir: string;
let dataDir: string;
let server: TestServer | undefined;
let logged: LogLine[];

beforeEach(async () => {
  chartDir = await tempDir('chartd-charts-');
  dataDir = await tempDir('chartd-data-');
  await writeCharts(chartDir, { 'gates.yaml': gateChart(3) });
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await removeDir(chartDir);
  await removeDir(dataDir);
});

async function serve(options: { maxInstances?: number } = {}): Promise<TestServer> {
  const { log, lines } = capturingLogger();
  logged = lines;
  server = await startTestServer({ chartDir, dataDir, log, ...options });
  return server;
}

const faults = (): LogLine[] => logged.filter((line) => line.level >= ERROR_LEVEL);

/** `{"a":[[…]]}`: a context whose arrays make it nest `levels` deep. */
const contextNesting = (levels: number): string => `{"a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;

const create = (url: string, id: string, context: string) =>
  request(url).post('/charts/gates/instances').set('content-type', 'application/json').send(`{"id":"${id}","context":${context}}`);

describe('nesting depth', () => {
  it('keeps a context at the limit working through every later change, and refuses one level more with too_deep', async () => {
    const { url } = await serve();
    await create(url, 'at-limit', contextNesting(MAX_CONTEXT_DEPTH)).expect(201);
    // A PUT commits from deeper in the stack than a creation does: it is where a deep context used to fail.
    for (const by of ['a', 'b']) await request(url).put(`/charts/gates/instances/at-limit/state?state=wait&by=${by}`).expect(200);

    const refused = await create(url, 'over', contextNesting(MAX_CONTEXT_DEPTH + 1)).expect(400);
    expect(refused.body.error).toEqual({
      code: 'too_deep',
      message: `context nests objects and arrays more than ${MAX_CONTEXT_DEPTH} levels deep; the limit is ${MAX_CONTEXT_DEPTH}: an instance's context holds its inputs; pass them flatter`,
    });
    await request(url).get('/charts/gates/instances/over').expect(404);
    expect(faults()).toEqual([]);
  });

  it('refuses the 2,200-deep context that was stored and then failed every PUT with 500, and a body deeper than its own limit', async () => {
    const { url } = await serve();
    const reported = await create(url, 'reported', contextNesting(2200)).expect(400);
    expect(reported.body.error.code).toBe('too_deep');
    const body = await request(url).post('/charts/gates/instances').set('content-type', 'application/json')
      .send(`{"id":"x","context":{}, "deep": ${'['.repeat(BODY_DEPTH_LIMIT)}${']'.repeat(BODY_DEPTH_LIMIT)}}`).expect(400);
    expect(body.body.error).toEqual({
      code: 'too_deep', message: `request body nests objects and arrays more than ${BODY_DEPTH_LIMIT} levels deep; the limit is ${BODY_DEPTH_LIMIT}: send flatter JSON`,
    });
    await request(url).put('/charts/gates/state?state=wait&by=a').expect(200);
    expect(faults()).toEqual([]);
  });
});

describe('methods no route takes', () => {
  it('answers a method the path does not take with 405, Allow and a JSON error, and any method on a missing path with 404', async () => {
    const { port } = await serve();
    for (const [method, target, allowed] of [
      ['TRACE', '/state?state=wait', ['GET', 'HEAD', 'POST', 'PUT']],
      ['PROPFIND', '/charts/gates', ['GET', 'HEAD', 'PUT', 'DELETE']],
      ['PATCH', '/charts/gates/instances/default', ['GET', 'HEAD', 'DELETE']],
      ['DELETE', '/charts/gates/instances', ['GET', 'HEAD', 'POST']],
      ['PATCH', '/charts/gates/instances/default/state?state=wait', ['GET', 'HEAD', 'PUT']],
    ] as const) {
      const answer = await exchange(port, { method, target });
      expect(answer.status, `${method} ${target}`).toBe(405);
      expect(answer.headers['allow']?.split(', ').sort()).toEqual([...allowed].sort());
      expect(JSON.parse(answer.body)).toEqual({ error: { code: 'method_not_allowed', message: `${method} is not supported on ${target.split('?')[0]}; use ${answer.headers['allow']}` } });
    }
    for (const method of ['TRACE', 'PROPFIND', 'GET', 'DELETE', 'MKCOL']) {
      const answer = await exchange(port, { method, target: '/nowhere' });
      expect(answer.status, method).toBe(404);
      expect(JSON.parse(answer.body).error).toEqual({ code: 'not_found', message: `no route for ${method} /nowhere; see GET /charts` });
    }
    expect(faults()).toEqual([]);
  });
});

describe('a client that hangs up mid-body', () => {
  it('is logged at debug level, not as a server fault, and changes nothing', async () => {
    const { port, url } = await serve();
    const body = JSON.stringify({ id: 'never', context: { note: 'x'.repeat(2000) } });
    const chunked = `${(body.length).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const uploads = [
      { headers: [['Content-Type', 'application/json']] as const, body, hangUp: { after: 100, how: 'end' } as const },
      { headers: [['Content-Type', 'application/json']] as const, body, hangUp: { after: 1000, how: 'reset' } as const },
      { headers: [['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']] as const, body: chunked, hangUp: { after: 500, how: 'end' } as const },
    ];
    for (const [index, upload] of uploads.entries()) {
      const answer = await exchange(port, { method: 'POST', target: '/charts/gates/instances', ...upload });
      // Node's parser answers a body cut short by a close with its own 400; a reset leaves nobody to answer.
      expect([0, 400], `upload ${index}`).toContain(answer.status);
      await until(() => gone().length === index + 1, 'the hang-up to be logged');
    }
    expect(gone()[0]).toMatchObject({ level: 20, method: 'POST', url: '/charts/gates/instances', reason: expect.stringMatching(/^the request body broke off after \d+ bytes/) });
    expect(faults()).toEqual([]);
    await request(url).get('/charts/gates/instances/never').expect(404);
  });
});

const gone = (): LogLine[] => logged.filter((line) => line.msg === 'the client went away mid-request');

describe('the instance quota', () => {
  const refusal = (limit: number) => ({
    code: 'instance_quota',
    message: `chart gates has ${limit} instances, the most this server allows (--max-instances ${limit}); start chartd serve with a larger --max-instances to create more`,
  });

  it('refuses a new instance past --max-instances with 409, naming the chart, the limit and the fix; a retry of an existing one still answers', async () => {
    const { url } = await serve({ maxInstances: 3 });
    for (const id of ['a', 'b']) await create(url, id, '{}').expect(201);
    const refused = await create(url, 'c', '{}').expect(409);
    expect(refused.body.error).toEqual(refusal(3));
    await create(url, 'a', '{}').expect(200);
    await request(url).get('/charts/gates/instances/c').expect(404);
    expect((await request(url).get('/charts/gates').expect(200)).body.instances).toBe(3);
    expect(faults()).toEqual([]);
  });

  it('lets exactly as many concurrent creations through as places are left, and counts what is stored after a restart', async () => {
    let { url } = await serve({ maxInstances: 10 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, index) => create(url, `n${index}`, '{}')));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(9);
    expect(answers.filter((answer) => answer.status === 409)).toHaveLength(21);
    await server!.close();
    ({ url } = await serve({ maxInstances: 10 }));
    expect((await create(url, 'after-restart', '{}').expect(409)).body.error).toEqual(refusal(10));
    await server!.close();
    ({ url } = await serve({ maxInstances: 11 }));
    await create(url, 'after-restart', '{}').expect(201);
    await create(url, 'one-more', '{}').expect(409);
  });

  it('is set with chartd serve --max-instances, which refuses a value below 1', async () => {
    const child = await spawnServer(['--chart', chartDir, '--data', dataDir, '--max-instances', '2']);
    try {
      await create(child.url, 'second', '{}').expect(201);
      expect((await create(child.url, 'third', '{}').expect(409)).body.error).toEqual(refusal(2));
    } finally {
      await child.kill();
    }
    const refused = spawnSync(process.execPath, [CLI, 'serve', '--chart', chartDir, '--data', dataDir, '--max-instances', '0'], { encoding: 'utf8', timeout: 20_000 });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--max-instances 0 is not a whole number of at least 1');
  });
});
