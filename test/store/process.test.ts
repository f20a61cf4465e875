import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import { StoreLocked } from '../../src/store/store.js';
import { compileStoreForChildren, copyAsCrashed, makeTempDir, openLogged, removeTempDirs, valueOf, valuesOf } from './helpers.js';

const childScript = fileURLToPath(new URL('./child-store.mjs', import.meta.url));
let compiled: { module: string; cleanup: () => Promise<void> };
const children: ChildProcess[] = [];

beforeAll(async () => {
  compiled = await compileStoreForChildren();
});
afterAll(async () => {
  await compiled?.cleanup();
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await removeTempDirs();
});

function startChild(dir: string, mode: string, shellPrefix?: string): ChildProcess {
  const args = [childScript, compiled.module, dir, mode];
  const child = shellPrefix
    ? spawn('bash', ['-c', `${shellPrefix} && exec "$0" "$@"`, process.execPath, ...args])
    : spawn(process.execPath, args);
  children.push(child);
  return child;
}

/** Resolves with all output so far once `done(lines)` holds. */
function waitForOutput(child: ChildProcess, done: (lines: string[]) => boolean): Promise<string[]> {
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
      if (done(lines)) resolve(lines);
    });
    child.on('exit', () => (done(lines) ? resolve(lines) : reject(new Error(`child exited early: ${stderr}`))));
  });
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('lowdb store across processes', () => {
  it('refuses a second server on the same directory, and takes the lock over once that one is killed -9', async () => {
    const dir = await makeTempDir();
    const holder = startChild(dir, 'hold');
    await waitForOutput(holder, (lines) => lines.includes('ready'));
    const refused = await openLowdbStore(dir).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StoreLocked);
    expect((refused as Error).message).toMatch(
      new RegExp(`^data directory ${dir} is in use by chartd \\(pid ${holder.pid}, since \\d{4}-.+\\); stop it or pass another --data`),
    );
    await killHard(holder);
    const { store, logs } = await openLogged(dir);
    expect(logs).toEqual([{ level: 'warn', msg: expect.stringMatching(new RegExp(`took over .*pid ${holder.pid}`)) }]);
    await store.close();
  });

  it('keeps every acknowledged commit, whole, through repeated kill -9 mid-write', async () => {
    const dir = await makeTempDir();
    const acked = new Map<string, number>();
    const tried = new Map<string, number>();
    let checkpoints = 0;
    for (let round = 0; round < 3; round++) {
      const child = startChild(dir, 'hammer');
      // The last round also waits for a checkpoint to have finished (on a loaded machine one may lag the acks).
      const checkpointed = (seen: string[]) => checkpoints > 0 || seen.some((line) => line.startsWith('ack') && Number(line.split(' ')[3]) > 0);
      const lines = await waitForOutput(child, (seen) => seen.filter((line) => line.startsWith('ack')).length >= 150 && (round < 2 || checkpointed(seen)));
      await killHard(child);
      for (const line of lines) {
        const [kind, name, n, done] = line.split(' ');
        const seen = kind === 'ack' ? acked : tried;
        seen.set(name!, Math.max(seen.get(name!) ?? 0, Number(n)));
        if (kind === 'ack') checkpoints = Math.max(checkpoints, Number(done));
      }
      // Check a copy, so the next child starts from exactly what this kill left behind.
      const { store } = await openLogged(await copyAsCrashed(dir));
      for (const [name, n] of acked) {
        const a = await valueOf<{ n: number }>(store, 'a', name);
        expect(a!.n, `${name} after round ${round}`).toBeGreaterThanOrEqual(n);
        expect(a!.n).toBeLessThanOrEqual(tried.get(name)!);
        expect(await valueOf(store, 'b', name), 'both writes of one commit, or neither').toEqual(a);
      }
      expect(await valuesOf(store, 'a')).toHaveLength(8);
      await store.close();
    }
    expect(checkpoints, 'the children checkpointed while being killed').toBeGreaterThan(0);
  });

  it.runIf(process.platform === 'linux')('rejects every commit of a batch whose write fails, shows none of them, and never replays them', async () => {
    const dir = await makeTempDir();
    const child = startChild(dir, 'fail-write', 'ulimit -f 64');
    const exited = once(child, 'exit');
    const lines = await waitForOutput(child, (seen) => seen.some((line) => line.startsWith('{')));
    await exited;
    const report = JSON.parse(lines.find((line) => line.startsWith('{'))!) as { outcomes: string[]; reason: string; visible: boolean[] };
    expect(report.outcomes).toEqual(['rejected', 'rejected']);
    expect(report.reason).toMatch(/could not make 2 commit\(s\) durable.*none of them was applied/);
    expect(report.visible).toEqual([false, false]);
    const { store, logs } = await openLogged(dir);
    expect(await valueOf(store, 'c', 'before')).toBe(1);
    expect(await valueOf(store, 'c', 'after')).toBe(3);
    expect(await valueOf(store, 'c', 'big')).toBeUndefined();
    expect(await valueOf(store, 'c', 'batched')).toBeUndefined();
    expect(logs.filter((line) => line.level === 'warn').map((line) => line.msg)).toEqual([expect.stringMatching(/took over/)]);
    await store.close();
  });
});
