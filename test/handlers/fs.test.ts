// The fs.* handlers on a real temp directory: success, idempotent re-runs, refusals, hostile names.

import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeDirHandler, moveFile, moveHandler, removeDirHandler, removeFileHandler } from '../../src/handlers/fs.js';
import { FinalFailure } from '../../src/handlers/handler.js';
import { makeStepContext } from '../support/stepContext.js';

let work: string;
const ctx = makeStepContext();

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chartd-fs-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const exists = (path: string) => stat(path).then(() => true, () => false);

describe('fs.makeDir', () => {
  it('creates nested directories and succeeds again when they exist', async () => {
    const path = join(work, 'a', 'b', 'c');
    await makeDirHandler.run({ path }, ctx);
    expect((await stat(path)).isDirectory()).toBe(true);
    await makeDirHandler.run({ path }, ctx);
    expect((await stat(path)).isDirectory()).toBe(true);
  });

  it('fails when a file is in the way', async () => {
    const path = join(work, 'file');
    await writeFile(path, 'x');
    await expect(makeDirHandler.run({ path }, ctx)).rejects.toThrow(`fs.makeDir: ${path} exists and is not a directory`);
  });

  it('creates directories whose names look like options or shell code', async () => {
    for (const name of ['-rf', '--help', 'a;b $(touch x)', "it's \"quoted\"", '`id`*']) {
      await makeDirHandler.run({ path: join(work, name) }, ctx);
    }
    expect((await readdir(work)).sort()).toEqual(['--help', '-rf', '`id`*', 'a;b $(touch x)', "it's \"quoted\""].sort());
  });

  it('rejects missing and unknown arguments with every problem named', async () => {
    await expect(makeDirHandler.run({}, ctx)).rejects.toThrow("fs.makeDir: invalid arguments: arguments must have required property 'path'");
    await expect(makeDirHandler.run({ path: work, mode: 7 }, ctx)).rejects.toThrow("must NOT have additional properties 'mode'");
    await expect(makeDirHandler.run({ path: 7 }, ctx)).rejects.toThrow('/path must be string');
    // Retrying cannot fix a chart's arguments: the step should take its unhappy path at once.
    await expect(makeDirHandler.run({}, ctx)).rejects.toBeInstanceOf(FinalFailure);
  });
});

describe('fs.removeDir', () => {
  it('removes a whole tree and succeeds again when it is gone', async () => {
    const path = join(work, '-rf');
    await mkdir(join(path, 'deep', 'er'), { recursive: true });
    await writeFile(join(path, 'deep', 'file'), 'x');
    await removeDirHandler.run({ path }, ctx);
    expect(await exists(path)).toBe(false);
    await removeDirHandler.run({ path }, ctx);
    expect(await readdir(work)).toEqual([]);
  });

  it('refuses to remove a file or the root directory', async () => {
    const file = join(work, 'file');
    await writeFile(file, 'x');
    await expect(removeDirHandler.run({ path: file }, ctx)).rejects.toThrow(`fs.removeDir: ${file} is not a directory; refusing to remove it`);
    expect(await readFile(file, 'utf8')).toBe('x');
    await expect(removeDirHandler.run({ path: '/' }, ctx)).rejects.toThrow('refusing to remove the root directory');
  });
});

describe('fs.removeFile', () => {
  it('removes a file and succeeds again when it is gone', async () => {
    const path = join(work, 'a;b $(touch pwned).sql');
    await writeFile(path, 'x');
    await removeFileHandler.run({ path }, ctx);
    expect(await exists(path)).toBe(false);
    await removeFileHandler.run({ path }, ctx);
    expect(await readdir(work)).toEqual([]);
  });

  it('refuses to remove a directory', async () => {
    const path = join(work, 'dir');
    await mkdir(path);
    await expect(removeFileHandler.run({ path }, ctx)).rejects.toThrow(`fs.removeFile: ${path} is a directory`);
    expect(await exists(path)).toBe(true);
  });
});

describe('fs.move', () => {
  it('moves a file, and a re-run after success is a success that changes nothing', async () => {
    const from = join(work, 'backup.tar.gz.gpg');
    const to = join(work, 'long', 'backup.tar.gz.gpg');
    await mkdir(join(work, 'long'));
    await writeFile(from, 'encrypted');
    await moveHandler.run({ from, to }, ctx);
    await moveHandler.run({ from, to }, ctx);
    expect(await exists(from)).toBe(false);
    expect(await readFile(to, 'utf8')).toBe('encrypted');
  });

  it('moves into an existing directory, or one named with a trailing slash, under the same name', async () => {
    await mkdir(join(work, 'dest'));
    await writeFile(join(work, 'one'), '1');
    await writeFile(join(work, 'two'), '2');
    expect(await moveFile(join(work, 'one'), join(work, 'dest'))).toBe(join(work, 'dest', 'one'));
    expect(await moveFile(join(work, 'two'), join(work, 'dest') + '/')).toBe(join(work, 'dest', 'two'));
    expect((await readdir(join(work, 'dest'))).sort()).toEqual(['one', 'two']);
  });

  it('finishes an interrupted move when the destination already holds the same bytes', async () => {
    const from = join(work, 'from');
    const to = join(work, 'to');
    await writeFile(from, 'same');
    await writeFile(to, 'same');
    await moveHandler.run({ from, to }, ctx);
    expect(await exists(from)).toBe(false);
    expect(await readFile(to, 'utf8')).toBe('same');
  });

  it('never overwrites a different destination', async () => {
    const from = join(work, 'from');
    const to = join(work, 'to');
    await writeFile(from, 'new');
    await writeFile(to, 'old backup');
    await expect(moveHandler.run({ from, to }, ctx)).rejects.toThrow(`fs.move: refusing to move ${from} to ${to}: the destination exists and differs`);
    await expect(moveHandler.run({ from, to }, ctx)).rejects.toBeInstanceOf(FinalFailure);
    expect(await readFile(from, 'utf8')).toBe('new');
    expect(await readFile(to, 'utf8')).toBe('old backup');
  });

  it('fails clearly when there is nothing to move or nowhere to put it', async () => {
    await expect(moveHandler.run({ from: join(work, 'a'), to: join(work, 'b') }, ctx)).rejects.toThrow(/does not exist, and neither does .*\/b$/);
    await writeFile(join(work, 'a'), 'x');
    const noDirectory = moveHandler.run({ from: join(work, 'a'), to: join(work, 'missing', 'b') }, ctx).catch((caught: Error) => caught);
    expect(((await noDirectory) as Error).message).toBe(`fs.move: directory ${join(work, 'missing')} does not exist`);
    // A missing directory may be a share not mounted yet: worth a retry.
    expect(await noDirectory).not.toBeInstanceOf(FinalFailure);
    await mkdir(join(work, 'dir'));
    await expect(moveHandler.run({ from: join(work, 'dir'), to: join(work, 'c') }, ctx)).rejects.toThrow('moves regular files only');
    // Same path: the "identical destination" rule must not delete the only copy.
    await expect(moveHandler.run({ from: join(work, 'a'), to: join(work, '.', 'a') }, ctx)).rejects.toThrow('onto itself');
    expect(await readFile(join(work, 'a'), 'utf8')).toBe('x');
  });

  it('copies, syncs and unlinks when the destination is on another device', async (test) => {
    const other = await mkdtemp('/dev/shm/chartd-fs-').catch(() => undefined);
    if (!other) return test.skip();
    try {
      if ((await stat(other)).dev === (await stat(work)).dev) return test.skip();
      const from = join(work, 'payload');
      const body = Buffer.alloc(300_000, 7);
      await writeFile(from, body);
      await moveHandler.run({ from, to: join(other, 'payload') }, ctx);
      expect(await exists(from)).toBe(false);
      expect((await readFile(join(other, 'payload'))).equals(body)).toBe(true);
      expect(await readdir(other)).toEqual(['payload']);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
