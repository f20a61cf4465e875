import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import { StoreLocked } from '../../src/store/store.js';
import { makeTempDir, openLogged, removeTempDirs } from './helpers.js';

afterEach(removeTempDirs);

async function writeLock(dir: string, holder: object): Promise<void> {
  await writeFile(join(dir, 'LOCK'), JSON.stringify({ program: 'chartd', host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', ...holder }));
}

/** A pid that surely belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

describe('lowdb store: the data directory lock', () => {
  it('refuses a second open in the same process and frees the directory on close', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    await expect(openLowdbStore(dir)).rejects.toThrow(StoreLocked);
    await expect(openLowdbStore(dir)).rejects.toThrow(`data directory ${dir} is in use by chartd (pid ${process.pid}`);
    await store.close();
    await expect(access(join(dir, 'LOCK'))).rejects.toThrow(/ENOENT/);
    const again = await openLowdbStore(dir);
    await again.close();
  });

  it('refuses while the pid in the LOCK is alive', async () => {
    const dir = await makeTempDir();
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)']);
    try {
      await writeLock(dir, { pid: holder.pid });
      const error = await openLowdbStore(dir).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(StoreLocked);
      expect((error as StoreLocked).file).toBe(join(dir, 'LOCK'));
      expect((error as Error).message).toBe(
        `data directory ${dir} is in use by chartd (pid ${holder.pid}, since 2026-01-01T00:00:00.000Z); stop it or pass another --data`,
      );
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over a lock left by a dead pid, with a warning', async () => {
    const dir = await makeTempDir();
    const pid = await deadPid();
    await writeLock(dir, { pid });
    const { store, logs } = await openLogged(dir);
    expect(logs).toEqual([{ level: 'warn', msg: expect.stringContaining(`lock was left by pid ${pid}`) }]);
    await store.commit([{ collection: 'c', key: 'k', value: 1 }]);
    await store.close();
  });

  it('refuses a lock from another host, since its pid cannot be checked from here', async () => {
    const dir = await makeTempDir();
    await writeLock(dir, { pid: await deadPid(), host: 'elsewhere.example' });
    await expect(openLowdbStore(dir)).rejects.toThrow(/on host elsewhere\.example.*delete .*LOCK/);
  });

  it('refuses a LOCK file chartd did not write', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'LOCK'), 'not json');
    await expect(openLowdbStore(dir)).rejects.toThrow(/not a chartd lock file; if no chartd uses/);
  });
});
