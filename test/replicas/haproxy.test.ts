// The load balancer of docs/replicas.md: Debian's HAProxy started with docs/haproxy.cfg as shipped (only the addresses
// changed) in front of three replicas on one PostgreSQL; requests spread, counts stay exact, a killed replica leaves.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/handlers/exec.js';
import { freePort } from '../support/postgres.js';
import { removeDir, tempDir } from '../support/server.js';
import { call, clusterForFile, json } from './cluster.js';

const SHIPPED = fileURLToPath(new URL('../../docs/haproxy.cfg', import.meta.url));
const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((path) => existsSync(path)) ?? 'haproxy';
const SERVER_LINE = /^(\s*server replica\d+ )(\S+)( check)$/gm;

/** docs/haproxy.cfg with its frontend on `port` of loopback and its three servers at `replicas`. */
async function configFor(port: number, replicas: readonly string[]): Promise<string> {
  const shipped = await readFile(SHIPPED, 'utf8');
  expect(shipped.match(SERVER_LINE)).toHaveLength(3);
  expect(shipped).toMatch(/^\s*bind :8080$/m);
  let at = 0;
  return shipped
    .replace(/^(\s*bind ):8080$/m, `$1127.0.0.1:${port}`)
    .replace(SERVER_LINE, (_line, start: string, _address: string, end: string) => `${start}${new URL(replicas[at++]!).host}${end}`);
}

/** Series of chartd_http_requests_total for PUTs to the instance state route, summed: what one replica answered. */
async function putsAnswered(base: string): Promise<number> {
  const text = (await call(base, 'GET', '/metrics')).body;
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('chartd_http_requests_total{') && line.includes('method="PUT"') && line.includes('route="/charts/:chart/instances/:id/state"')) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('HAProxy in front of three replicas (docs/haproxy.cfg)', () => {
  const cluster = clusterForFile();
  let haproxy: ChildProcess | undefined;
  /** What HAProxy printed: its health checks' verdicts among it. */
  let printed = '';
  let dir = '';
  afterEach(async () => {
    haproxy?.kill('SIGKILL');
    haproxy = undefined;
    if (dir) await removeDir(dir);
  });

  async function startHaproxy(replicas: readonly string[]): Promise<string> {
    dir = await tempDir('chartd-haproxy-');
    const port = await freePort();
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, await configFor(port, replicas));
    await runCommand(HAPROXY, ['-c', '-q', '-f', file]);
    printed = '';
    haproxy = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    haproxy.stderr!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const base = `http://127.0.0.1:${port}`;
    await until('HAProxy answering /readyz through a replica', async () => (await call(base, 'GET', '/readyz')).status === 200);
    return base;
  }

  it('the shipped file is valid as it stands', async () => {
    await expect(runCommand(HAPROXY, ['-c', '-q', '-f', SHIPPED])).resolves.toBeDefined();
  });

  it('spreads requests over every replica and counts exactly; a replica killed -9 leaves rotation with no request failing', async () => {
    const replicas = await cluster.replicas(3);
    const base = await startHaproxy(replicas.map((replica) => replica.url));
    expect((await call(base, 'POST', '/charts/tally/instances', { id: 'lb' })).status).toBe(201);
    const put = (): Promise<number> => call(base, 'PUT', '/charts/tally/instances/lb/state?state=open').then((answer) => answer.status);

    const first = await Promise.all(Array.from({ length: 90 }, put));
    expect(first.every((status) => status === 200)).toBe(true);
    const answered = await Promise.all(replicas.map((replica) => putsAnswered(replica.url)));
    expect(answered.reduce((sum, count) => sum + count, 0)).toBe(90);
    for (const count of answered) expect(count).toBeGreaterThan(0);

    // Killed mid-stream: HAProxy sends what it cannot connect to elsewhere (retry-on conn-failure, redispatch),
    // and the health check on /readyz takes the replica out within two failed checks.
    await replicas[0]!.kill('SIGKILL');
    const after: number[] = [];
    for (let round = 0; round < 30; round++) after.push(...(await Promise.all(Array.from({ length: 5 }, put))));
    expect(after.filter((status) => status !== 200)).toEqual([]);
    await until('HAProxy marking the killed replica down', async () => /replica1 is DOWN/.test(printed), 10_000);
    const snapshot = await json<{ counter: number }>(replicas[1]!.url, '/charts/tally/instances/lb');
    expect(snapshot.counter).toBe(90 + after.length);
  });
});
