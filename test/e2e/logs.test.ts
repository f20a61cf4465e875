// What the operator reads on standard error: JSON lines by default, pretty ones when asked, and with --access-log a
// line per request that names the token and the caller but never holds a token or a parameter chartd does not read.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { spawnServer } from '../support/child.js';
import { removeDir, tempDir } from '../support/server.js';
import { until } from '../support/wait.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('chartd-logs-');
});
afterAll(async () => {
  await removeDir(dir);
});

const SERVE = ['--chart', 'charts/traffic-light.yaml', '--default-chart', 'traffic-light'];

/** The JSON lines of a log, each parsed. */
function jsonLines(log: string): Record<string, unknown>[] {
  return log.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('--access-log', () => {
  it('logs each request once answered: method, path, the parameters chartd reads, status, duration, token name, caller', async () => {
    const token = newToken();
    const auth = join(dir, 'auth.yaml');
    await writeFile(auth, `tokens:\n  web-fleet:\n    hash: '${hashOf(token)}'\n    scopes: [read, write]\n    callers: [web1]\n`);
    // --log-level warn (spawnServer's) keeps chartd's own info lines out; the access log is written all the same.
    const server = await spawnServer([...SERVE, '--data', join(dir, 'access'), '--auth', auth, '--access-log']);
    const bearer = { authorization: `Bearer ${token}` };
    try {
      expect((await fetch(`${server.url}/state?state=green_state&password=hunter2`, { headers: bearer })).status).toBe(200);
      expect((await fetch(`${server.url}/state?state=green_state`, { method: 'PUT', headers: { ...bearer, 'x-chartd-caller': 'web1' } })).status).toBe(200);
      expect((await fetch(`${server.url}/charts/traffic-light/state?state=red_state`, { method: 'PUT', headers: bearer })).status).toBe(200);
      expect((await fetch(`${server.url}/state?state=blue_state`)).status).toBe(401);
      await until(() => jsonLines(server.stderr()).filter((line) => line['log'] === 'access').length === 4, 'four access lines');
    } finally {
      await server.kill();
    }
    const lines = jsonLines(server.stderr()).filter((line) => line['log'] === 'access');
    expect(lines.map(({ method, path, query, status, token: name, caller, msg }) => ({ method, path, query, status, token: name, caller, msg }))).toEqual([
      { method: 'GET', path: '/state', query: { state: 'green_state', password: '(not logged)' }, status: 200, token: 'web-fleet', caller: 'web1', msg: 'GET /state 200' },
      { method: 'PUT', path: '/state', query: { state: 'green_state' }, status: 200, token: 'web-fleet', caller: 'web1', msg: 'PUT /state 200' },
      { method: 'PUT', path: '/charts/traffic-light/state', query: { state: 'red_state' }, status: 200, token: 'web-fleet', caller: 'web1', msg: 'PUT /charts/traffic-light/state 200' },
      { method: 'GET', path: '/state', query: { state: 'blue_state' }, status: 401, token: undefined, caller: undefined, msg: 'GET /state 401' },
    ]);
    for (const line of lines) {
      expect(line).toMatchObject({ level: 30, from: '127.0.0.1' });
      expect(line['ms']).toBeGreaterThanOrEqual(0);
    }
    expect(server.stderr()).not.toContain(token);
    expect(server.stderr()).not.toContain('hunter2');
    expect(server.stderr()).not.toMatch(/authorization/i);
  });

  it('is off unless asked for', async () => {
    const server = await spawnServer([...SERVE, '--data', join(dir, 'quiet'), '--log-level', 'info']);
    try {
      expect((await fetch(`${server.url}/state?state=green_state`)).status).toBe(200);
      await until(() => server.stderr().includes('chartd is serving'), 'the start-up line');
    } finally {
      await server.kill();
    }
    expect(jsonLines(server.stderr()).length).toBeGreaterThan(0);
    expect(jsonLines(server.stderr()).filter((line) => line['log'] === 'access')).toEqual([]);
  });
});

describe('--log-format', () => {
  it('pretty writes lines a person reads (level, time, message), not JSON', async () => {
    const server = await spawnServer([...SERVE, '--data', join(dir, 'pretty'), '--log-level', 'info', '--log-format', 'pretty', '--access-log']);
    try {
      expect((await fetch(`${server.url}/state?state=green_state`)).status).toBe(200);
      await until(() => server.stderr().includes('GET /state 200'), 'the access line');
    } finally {
      await server.kill();
    }
    const log = server.stderr();
    expect(log).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: charts loaded$/m);
    expect(log).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: chartd is serving$/m);
    expect(log).toMatch(/^\[[^\]]+\] INFO: GET \/state 200\n {4}log: "access"\n {4}method: "GET"/m);
    expect(jsonLines(log)).toEqual([]);
  });
});
