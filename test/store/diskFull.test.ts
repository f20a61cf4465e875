// A real full disk, on a small tmpfs: refused changes while it is full, the space an operator frees is not taken
// back by the journal's preallocation, and a start-up on a full disk refuses naming the file and leaves no temp file.
// Needs root to mount the tmpfs (CI runs as root); elsewhere it is skipped, saying why.

import { execFileSync } from 'node:child_process';
import { open, readdir, rm, stat, statfs, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startTestServer, tempDir, TRAFFIC_LIGHT, writeCharts, type TestServer } from '../support/server.js';

const SIZE_MB = 16;

async function mountTmpfs(): Promise<{ dir: string } | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'not root: cannot mount a tmpfs' };
  const dir = await tempDir('chartd-full-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MB}m`, 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (error) {
    await removeDir(dir);
    return { skip: `mount -t tmpfs failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}` };
  }
}

const mounted = await mountTmpfs();
const disk = 'dir' in mounted ? mounted.dir : '';
if ('skip' in mounted) console.log(`disk-full tests skipped: ${mounted.skip}`);

const free = async (): Promise<number> => {
  const space = await statfs(disk);
  return space.bavail * space.bsize;
};

/** Writes zeros into `file` until the file system refuses another byte. */
async function fill(file: string): Promise<void> {
  const handle = await open(file, 'a');
  try {
    for (let chunk = 1024 * 1024; chunk >= 1; chunk = Math.floor(chunk / 4)) {
      for (;;) {
        try {
          await handle.write(Buffer.alloc(chunk));
        } catch {
          break;
        }
      }
    }
  } finally {
    await handle.close();
  }
}

async function tempFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((name) => /(^|\/)\..*\.tmp$/.test(String(name))).map(String);
}

describe.skipIf('skip' in mounted)('a full disk', () => {
  let chartDir: string;
  let server: TestServer | undefined;
  const dataDir = join(disk, 'data');
  const filler = join(disk, 'filler');
  const put = (state: string) => fetch(`${server!.url}/charts/traffic-light/instances/default/state?state=${state}`, { method: 'PUT' });

  beforeAll(async () => {
    chartDir = await tempDir('chartd-charts-');
    // A gate that never opens, so every PUT is a durable change of the same instance.
    await writeCharts(chartDir, { 'traffic-light.yaml': TRAFFIC_LIGHT.replace(/value: 1\n/, 'value: 1000000000\n') });
    server = await startTestServer({ chartDir, dataDir });
  });

  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await removeDir(chartDir);
    // Lazily: a server that failed to start may still hold a file open for a moment; the mount must not outlive the test.
    execFileSync('umount', ['-l', disk]);
    await removeDir(disk);
  });

  it('refuses changes while full, and once space is freed takes only a small share of it for the journal', async () => {
    // A journal of a few megabytes, whose next preallocation would be megabytes too.
    for (let round = 0; round < 60; round++) {
      const answers = await Promise.all(Array.from({ length: 100 }, () => put('green_state')));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        await answer.arrayBuffer();
      }
    }
    await fill(filler);
    let refused: Response | undefined;
    for (let attempt = 0; attempt < 5000 && !refused; attempt++) {
      const answer = await put('green_state');
      if (answer.status === 503) refused = answer;
      else expect(answer.status).toBe(200);
      await answer.arrayBuffer();
    }
    expect(refused?.status, 'a PUT is refused once the disk is full').toBe(503);

    // The operator frees a quarter of a megabyte: less than the journal's next extent would be.
    const { size } = await stat(filler);
    await truncate(filler, size - 256 * 1024);
    const freed = await free();
    expect(freed).toBeGreaterThanOrEqual(256 * 1024);
    let accepted = 0;
    for (let attempt = 0; attempt < 50 && accepted < 20; attempt++) {
      const answer = await put('green_state');
      await answer.arrayBuffer();
      if (answer.status === 200) accepted += 1;
    }
    expect(accepted).toBe(20);
    expect(await free(), `of ${freed} bytes freed, the journal left`).toBeGreaterThan(freed / 2);
  });

  it('a start-up on a full disk refuses, naming the file and the cause, and leaves no temp file behind', async () => {
    await server!.close();
    server = undefined;
    await fill(filler);
    await expect(startTestServer({ chartDir, dataDir })).rejects.toThrow(new RegExp(`${dataDir}/\\S+: ENOSPC`));
    expect(await tempFilesUnder(dataDir)).toEqual([]);
    await rm(filler);
    server = await startTestServer({ chartDir, dataDir });
    expect((await put('green_state')).status).toBe(200);
  });
});
