// chartd installed as a package (npm pack, then npm install -g of the tarball into a prefix) works from any directory:
// it says what to do where there are no charts, chartd init gives it some, and it serves them.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageVersion } from '../../src/version.js';
import { runChartd, spawnServer } from '../support/child.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);

let work: string;
let prefix: string;
let bin: string;
let installLog: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'chartd-install-'));
  prefix = join(work, 'prefix');
  // npm test has just built dist/; the package's prepare script would only build it again.
  const packed = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
  const tarball = join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  const installed = await exec('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: work });
  installLog = installed.stdout + installed.stderr;
  bin = join(prefix, 'bin', 'chartd');
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('installs without an engine warning and runs from a directory that is not the package', async () => {
    expect(installLog).not.toContain('EBADENGINE');
    const elsewhere = join(work, 'elsewhere');
    await mkdir(elsewhere);
    expect(await runChartd(['--version'], { bin, cwd: elsewhere })).toMatchObject({ code: 0, stdout: `${packageVersion()}\n` });
    const serve = await runChartd(['serve', '--port', '0'], { bin, cwd: elsewhere });
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain(`reads charts/ in the current directory (${join(elsewhere, 'charts')}), and there is none`);
    expect(serve.stderr).toContain(`chartd serve --chart ${join(prefix, 'lib', 'node_modules', 'chartd', 'charts')}\n`);
  });

  it('chartd init, then chartd serve there: the StateService session answers, and the dashboard is served', async () => {
    const home = join(work, 'home');
    await mkdir(home);
    expect((await runChartd(['init'], { bin, cwd: home })).code).toBe(0);
    const server = await spawnServer(['--default-chart', 'traffic-light'], {}, { bin, cwd: home });
    try {
      expect(await (await fetch(`${server.url}/state?state=green_state`)).text()).toBe('green_state');
      expect((await fetch(`${server.url}/state?state=green_state`, { method: 'PUT' })).status).toBe(200);
      expect((await fetch(`${server.url}/state?state=red_state`)).status).toBe(200);
      expect((await fetch(`${server.url}/ui/`)).status).toBe(200);
    } finally {
      await server.kill();
    }
    const svg = await runChartd(['diagram', 'charts/backup-and-encrypt.yaml', '--format', 'svg'], { bin, cwd: home });
    expect(svg.code, svg.stderr).toBe(0);
    expect(svg.stdout).toMatch(/^<svg|<\?xml/);
  });
});
