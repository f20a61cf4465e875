// `chartd zone` as an operator starts it: what it needs is said up front, and secrets come only from the environment or files.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../support/child.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chartd-zone-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function zone(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'zone', ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('chartd zone', () => {
  const base = () => ['--storage', join(dir, 'storage'), '--port', '0', '--controller', 'http://127.0.0.1:5000', '--data', join(dir, 'data')];

  it('says what is missing', async () => {
    expect(await zone([])).toMatchObject({ code: 2, stderr: expect.stringContaining('zone needs --storage DIR') });
    expect(await zone([...base(), '--token-env', 'A', '--token-file', 'B'])).toMatchObject({ code: 2, stderr: expect.stringContaining('zone needs exactly one of --token-env NAME or --token-file FILE') });
  });

  it('refuses to start with a token that is not set or too short, naming where it looked and never the value', async () => {
    const short = await zone([...base(), '--token-env', 'CHARTD_TEST_ZONE_CLI_TOKEN', '--controller-token-env', 'CHARTD_TEST_UNSET_TOKEN'], { CHARTD_TEST_ZONE_CLI_TOKEN: 'tiny-secret' });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('the token in environment variable CHARTD_TEST_ZONE_CLI_TOKEN cannot be used: it is shorter than 16 characters');
    expect(short.stderr).not.toContain('tiny-secret');
    await writeFile(join(dir, 'zone.token'), 'z'.repeat(32));
    const unset = await zone([...base(), '--token-file', join(dir, 'zone.token'), '--controller-token-env', 'CHARTD_TEST_UNSET_TOKEN']);
    expect(unset).toMatchObject({ code: 1, stderr: expect.stringContaining('environment variable CHARTD_TEST_UNSET_TOKEN is not set') });
  });

  it('refuses a chart that is not backup-and-encrypt', async () => {
    await writeFile(join(dir, 'zone.token'), 'z'.repeat(32));
    const answer = await zone([...base(), '--token-file', join(dir, 'zone.token'), '--controller-token-file', join(dir, 'zone.token'), '--chart', 'charts/rolling-upgrade.yaml']);
    expect(answer).toMatchObject({ code: 1, stderr: expect.stringContaining('the zone runs the chart backup-and-encrypt, with a move_backup step') });
  });
});
