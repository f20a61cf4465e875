import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, readFile, writeFile } from 'node:fs/promises';
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

/** State letter and start (clock ticks since boot) of a live process, read the way the lock reads them. */
async function procStat(pid: number): Promise<{ state: string; start: number }> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, start: Number(fields[19]) };
}

function sleepingNode(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)']);
}

/** Opens the store in `dir`, which must take the lock over from `pid` with a warning. */
async function expectTakeover(dir: string, pid: number): Promise<void> {
  const { store, logs } = await openLogged(dir);
  expect(logs).toEqual([{ level: 'warn', msg: expect.stringContaining(`lock was left by pid ${pid}`) }]);
  await store.close();
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
    const holder = sleepingNode();
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

  it('records when its holder started, and refuses while that same process is alive', async () => {
    const dir = await makeTempDir();
    const store = await openLowdbStore(dir);
    const written = JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')) as { pid: number; procStart: number };
    expect(written.pid).toBe(process.pid);
    expect(written.procStart).toBe((await procStat(process.pid)).start);
    await store.close();

    const holder = sleepingNode();
    try {
      await writeLock(dir, { pid: holder.pid, procStart: (await procStat(holder.pid!)).start });
      await expect(openLowdbStore(dir)).rejects.toThrow(`in use by chartd (pid ${holder.pid}`);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over when the pid now belongs to another process, one that started later than the holder', async () => {
    const dir = await makeTempDir();
    const stranger = sleepingNode();
    try {
      await writeLock(dir, { pid: stranger.pid, procStart: (await procStat(stranger.pid!)).start - 1 });
      await expectTakeover(dir, stranger.pid!);
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  it('takes over from a holder killed -9 whose parent has not reaped it yet (a zombie)', async () => {
    const dir = await makeTempDir();
    // sh starts a short sleep in the background and becomes a long one, which never reaps the first.
    const parent = spawn('sh', ['-c', 'sleep 0.01 & echo $!; exec sleep 60']);
    try {
      const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
      const zombie = Number(chunk.toString().trim());
      while ((await procStat(zombie)).state !== 'Z') await new Promise((resolve) => setTimeout(resolve, 10));
      await writeLock(dir, { pid: zombie });
      await expectTakeover(dir, zombie);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('waits a moment for a holder on its way out before refusing', async () => {
    const dir = await makeTempDir();
    const holder = sleepingNode();
    try {
      await writeLock(dir, { pid: holder.pid, procStart: (await procStat(holder.pid!)).start });
      setTimeout(() => holder.kill('SIGKILL'), 300);
      await expectTakeover(dir, holder.pid!);
    } finally {
      holder.kill('SIGKILL');
    }
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
