// --backup-config: every problem at once with its line; tokens only from the environment or files, and never shown.

import { inspect } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackupConfig } from '../../src/backup/controller/config.js';

let dir: string;
const TOKEN = 'f'.repeat(16) + 'e'.repeat(16);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chartd-bc-config-'));
  process.env['CHARTD_TEST_CONFIG_TOKEN'] = TOKEN;
  await writeFile(join(dir, 'zone.token'), `${TOKEN.toUpperCase()}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(text: string): Promise<ReturnType<typeof loadBackupConfig>> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, text);
  return loadBackupConfig(file);
}

describe('loadBackupConfig', () => {
  it('reads jobs, zones, tokens (environment and file, relative to the config) and durations', async () => {
    const config = await load(`jobs: { url: "http://ui.example:8080/" }
zones:
  east: { url: "http://zone-east:7000", token: { file: zone.token } }
results_token: { env: CHARTD_TEST_CONFIG_TOKEN }
timeouts: { job_service: 3s, answer: 1m }
calls: { retries: 4, half_open_after: 1m30s }
`);
    expect(config.jobs).toEqual({ kind: 'http', url: 'http://ui.example:8080' });
    expect(config.zones.get('east')).toMatchObject({ name: 'east', url: 'http://zone-east:7000' });
    expect(config.zones.get('east')!.token.reveal()).toBe(TOKEN.toUpperCase());
    expect(config.resultsToken.reveal()).toBe(TOKEN);
    expect(config.jobCalls).toEqual({ timeoutMs: 3000, retries: 4, retryDelayMs: 200, breakerFailures: 5, halfOpenAfterMs: 90_000 });
    expect(config.zoneCalls.timeoutMs).toBe(10_000);
    expect(config.answerWithinMs).toBe(60_000);
  });

  it('never shows a token: not in JSON, not in inspect, not in a template string', async () => {
    const config = await load(`jobs: { file: jobs.yaml }
zones: { east: { url: "http://zone-east:7000", token: { env: CHARTD_TEST_CONFIG_TOKEN } } }
results_token: { env: CHARTD_TEST_CONFIG_TOKEN }
`);
    expect(config.jobs).toEqual({ kind: 'file', file: join(dir, 'jobs.yaml') });
    const shown = [JSON.stringify({ ...config, zones: [...config.zones.values()] }), inspect(config, { depth: 5 }), `${config.resultsToken}`].join('\n');
    expect(shown).not.toContain(TOKEN);
    expect(shown).toContain('***');
  });

  it('reports every problem at once, each with its line', async () => {
    const error = await load(`jobs: { url: "ftp://ui" }
zones:
  east: { url: "http://zone-east:7000", token: "${TOKEN}" }
  west: { url: "http://zone-west:7000" }
results_token: { env: CHARTD_TEST_CONFIG_TOKEN }
timeouts: { zone: 10 }
retries: 3
`).catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(Error);
    const lines = (error as Error).message.split('\n').slice(1).map((line) => line.replace(/^.*?\.yaml:/, ''));
    expect(lines).toEqual([
      '1: jobs.url: must be an http:// or https:// URL',
      '3: zones.east.token: a token is { env: VARIABLE } or { file: PATH } — never the token itself',
      "4: zones.west: missing required key 'token'",
      "6: timeouts.zone: duration '10' has no unit: write 10s, 5m or 1h",
      "7: retries: unknown key 'retries'",
    ]);
  });

  it('refuses a duration without a unit, and both or neither of jobs.url and jobs.file', async () => {
    await expect(load(`jobs: { url: "http://ui" }
zones: { east: { url: "http://e", token: { env: CHARTD_TEST_CONFIG_TOKEN } } }
results_token: { env: CHARTD_TEST_CONFIG_TOKEN }
timeouts: { zone: "10" }
`)).rejects.toThrow(/:4: timeouts\.zone: duration '10' has no unit/);
    await expect(load(`jobs: {}
zones: { east: { url: "http://e", token: { env: CHARTD_TEST_CONFIG_TOKEN } } }
results_token: { env: CHARTD_TEST_CONFIG_TOKEN }
`)).rejects.toThrow(/jobs: give the job service as jobs\.url .* or jobs\.file/);
  });

  it('says which token is missing or too weak', async () => {
    const base = `jobs: { url: "http://ui" }
zones: { east: { url: "http://e", token: { env: CHARTD_TEST_NO_SUCH_TOKEN } } }
`;
    await expect(load(`${base}results_token: { env: CHARTD_TEST_CONFIG_TOKEN }\n`)).rejects.toThrow(/zones\.east\.token: environment variable CHARTD_TEST_NO_SUCH_TOKEN is not set/);
    process.env['CHARTD_TEST_SHORT_TOKEN'] = 'short';
    await expect(load(`jobs: { url: "http://ui" }
zones: { east: { url: "http://e", token: { env: CHARTD_TEST_CONFIG_TOKEN } } }
results_token: { env: CHARTD_TEST_SHORT_TOKEN }
`)).rejects.toThrow(/results_token: the token in environment variable CHARTD_TEST_SHORT_TOKEN cannot be used: it is shorter than 16 characters/);
    await expect(load(`jobs: { url: "http://ui" }
zones: { east: { url: "http://e", token: { file: missing.token } } }
results_token: { env: CHARTD_TEST_CONFIG_TOKEN }
`)).rejects.toThrow(/zones\.east\.token: cannot read file .*missing\.token: ENOENT/);
  });
});
