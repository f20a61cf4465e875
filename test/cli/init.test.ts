// chartd init: a directory to start from, with the example charts and their tests, the editors' schemas and commented
// operator files that load as written; existing files are never overwritten unless asked.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChartd, spawnServer } from '../support/child.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chartd-init-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('chartd init', () => {
  it('writes the bundled charts with their tests, the schemas, auth.yaml and values.yaml, and says what to do next', async () => {
    const target = join(dir, 'fresh');
    const answer = await runChartd(['init', target]);
    expect(answer.code, answer.stderr).toBe(0);
    expect(await readdir(target)).toEqual(['auth.yaml', 'charts', 'schema', 'values.yaml']);
    expect(await readdir(join(target, 'charts'))).toEqual(await readdir('charts'));
    expect(await readdir(join(target, 'schema'))).toEqual(await readdir('schema'));
    for (const name of await readdir('charts')) expect(await readFile(join(target, 'charts', name), 'utf8')).toBe(await readFile(join('charts', name), 'utf8'));
    expect(answer.stdout).toContain(`wrote 12 files in ${target}:\n  charts/backup-and-encrypt.test.yaml\n`);
    expect(answer.stdout).toContain('chartd serve --default-chart traffic-light');
  });

  it('gives a directory where the charts pass validate and their tests, and serve loads its values and auth files', async () => {
    const target = join(dir, 'served');
    await mkdir(target);
    expect((await runChartd(['init'], { cwd: target })).code).toBe(0);
    expect(await runChartd(['validate', 'charts'], { cwd: target })).toMatchObject({ code: 0, stdout: expect.not.stringContaining('warning') });
    const tests = await runChartd(['test'], { cwd: target });
    expect(tests.code, tests.stdout).toBe(0);
    expect(tests.stdout).not.toContain('no tests:');
    const server = await spawnServer(['--values', 'values.yaml', '--auth', 'auth.yaml'], {}, { cwd: target });
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      // The auth file's example token is one nobody holds: reads need a token, and none gets in.
      expect((await fetch(`${server.url}/charts`)).status).toBe(401);
      expect(server.stderr()).not.toContain('creates no instances until its settings');
    } finally {
      await server.kill();
    }
    expect((await readdir(target)).sort()).toEqual(['auth.yaml', 'charts', 'data', 'schema', 'values.yaml']);
  });

  it('values.yaml names every setting of the backup chart, as its settings schema describes them', async () => {
    const chart = yaml.load(await readFile('charts/backup-and-encrypt.yaml', 'utf8')) as { settings: { properties: Record<string, unknown>; required: string[] } };
    const values = await readFile('examples/values.yaml', 'utf8');
    for (const key of Object.keys(chart.settings.properties)) expect(values, key).toMatch(new RegExp(`^ {4}(# )?${key}: `, 'm'));
    const given = (yaml.load(values) as { charts: Record<string, Record<string, unknown>> }).charts['backup-and-encrypt']!;
    expect(Object.keys(given)).toEqual(chart.settings.required);
  });

  it('refuses to overwrite files, writing nothing, unless given --force', async () => {
    const target = join(dir, 'again');
    expect((await runChartd(['init', target])).code).toBe(0);
    await writeFile(join(target, 'values.yaml'), 'environment: [MINE]\n');
    await rm(join(target, 'auth.yaml'));
    const refused = await runChartd(['init', target]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^chartd init: ${target} already has charts/backup-and-encrypt.test.yaml, .*, values.yaml; nothing was written. Give --force to overwrite them, or another DIR.\n$`));
    expect(await readFile(join(target, 'values.yaml'), 'utf8')).toBe('environment: [MINE]\n');
    expect(await readdir(target)).not.toContain('auth.yaml');
    expect((await runChartd(['init', target, '--force'])).code).toBe(0);
    expect(await readFile(join(target, 'values.yaml'), 'utf8')).toBe(await readFile('examples/values.yaml', 'utf8'));
  });
});

