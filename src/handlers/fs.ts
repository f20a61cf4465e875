// Idempotent file-system handlers (make, remove, move) and the durable-rename helpers the others share.

import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FinalFailure } from './handler.js';
import { defineHandler, PATH_SCHEMA } from './args.js';

export async function makeDirIfMissing(path: string): Promise<void> {
  const target = resolve(path);
  const existing = await statIfExists(target);
  if (existing && !existing.isDirectory()) throw new FinalFailure(`${target} exists and is not a directory`);
  await mkdir(target, { recursive: true });
}

export async function removeDirIfExists(path: string): Promise<void> {
  const target = resolve(path);
  if (target === '/') throw new FinalFailure('refusing to remove the root directory');
  const existing = await lstatIfExists(target);
  if (!existing) return;
  if (!existing.isDirectory()) throw new FinalFailure(`${target} is not a directory; refusing to remove it`);
  await rm(target, { recursive: true, force: true });
}

export async function removeFileIfExists(path: string): Promise<void> {
  const target = resolve(path);
  const existing = await lstatIfExists(target);
  if (!existing) return;
  if (existing.isDirectory()) throw new FinalFailure(`${target} is a directory; fs.removeFile removes files only`);
  await unlink(target).catch(ignoreCode('ENOENT'));
}

/**
 * Moves a file, safe to repeat: a missing `from` with `to` present counts as done, and an
 * identical `to` is accepted; a different `to` is never overwritten (that would lose a backup).
 * A `to` that is an existing directory or ends in "/" receives the file under its own name.
 */
export async function moveFile(from: string, to: string): Promise<string> {
  const source = resolve(from);
  const target = (to.endsWith('/') || (await statIfExists(to))?.isDirectory()) ? join(resolve(to), basename(source)) : resolve(to);
  if (source === target) throw new FinalFailure(`cannot move ${source} onto itself`);
  const sourceInfo = await lstatIfExists(source);
  const targetInfo = await lstatIfExists(target);

  if (!sourceInfo) {
    if (targetInfo?.isFile()) return target;
    throw new Error(`cannot move ${source}: it does not exist, and neither does ${target}`);
  }
  if (!sourceInfo.isFile()) throw new FinalFailure(`cannot move ${source}: fs.move moves regular files only`);
  if (targetInfo) {
    if (targetInfo.isFile() && (await haveSameContents(source, target))) {
      // A crash between copy and unlink in an earlier attempt: finish it.
      await unlink(source);
      return target;
    }
    throw new FinalFailure(`refusing to move ${source} to ${target}: the destination exists and differs`);
  }
  await assertDirectoryExists(dirname(target));

  try {
    await rename(source, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await copyAcrossDevices(source, target);
    await unlink(source);
  }
  await syncDirectory(dirname(target));
  return target;
}

/** Renames a finished temp file over its final name so a reader never sees half a file. */
export async function renameDurably(temp: string, final: string): Promise<void> {
  await syncFile(temp);
  await rename(temp, final);
  await syncDirectory(dirname(final));
}

/** Removes a temp file after a failure; never throws, so the failure that matters is the one reported. */
export async function discardPartial(temp: string): Promise<void> {
  await unlink(temp).catch(() => undefined);
}

/** The temp name a handler writes to before renaming; fixed, so a re-run after a crash overwrites it. */
export function partialPathFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.partial`);
}

export async function assertDirectoryExists(path: string): Promise<void> {
  const info = await statIfExists(path);
  if (!info?.isDirectory()) throw new Error(`directory ${path} does not exist`);
}

export async function statIfExists(path: string): Promise<Stats | undefined> {
  return stat(path).catch(ignoreCode('ENOENT', 'ENOTDIR'));
}

export async function lstatIfExists(path: string): Promise<Stats | undefined> {
  return lstat(path).catch(ignoreCode('ENOENT', 'ENOTDIR'));
}

async function copyAcrossDevices(source: string, target: string): Promise<void> {
  const temp = partialPathFor(target);
  try {
    await copyFile(source, temp, constants.COPYFILE_FICLONE);
    await renameDurably(temp, target);
  } catch (error) {
    await discardPartial(temp);
    throw error;
  }
}

async function haveSameContents(first: string, second: string): Promise<boolean> {
  const [a, b] = await Promise.all([open(first, 'r'), open(second, 'r')]);
  try {
    if ((await a.stat()).size !== (await b.stat()).size) return false;
    const bufferA = Buffer.alloc(1 << 16);
    const bufferB = Buffer.alloc(1 << 16);
    for (;;) {
      const [readA, readB] = await Promise.all([a.read(bufferA, 0, bufferA.length, null), b.read(bufferB, 0, bufferB.length, null)]);
      if (readA.bytesRead !== readB.bytesRead) return false;
      if (readA.bytesRead === 0) return true;
      if (!bufferA.subarray(0, readA.bytesRead).equals(bufferB.subarray(0, readB.bytesRead))) return false;
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems (CIFS shares among them) refuse fsync on a directory; the rename stands.
    if (!['EINVAL', 'EPERM', 'EISDIR', 'ENOTSUP'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

function ignoreCode(...codes: string[]): (error: unknown) => undefined {
  return (error) => {
    if (codes.includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  };
}

const pathOnly = {
  type: 'object',
  properties: { path: { ...PATH_SCHEMA, description: 'Directory or file path; relative paths resolve against the server directory.' } },
  required: ['path'],
  additionalProperties: false,
} as const;

export const makeDirHandler = defineHandler<{ path: string }>({
  name: 'fs.makeDir',
  description: 'Create a directory and its parents; succeeds if it already exists.',
  params: pathOnly,
  operatorOwned: { path: 'path' },
  run: ({ path }) => makeDirIfMissing(path),
});

export const removeDirHandler = defineHandler<{ path: string }>({
  name: 'fs.removeDir',
  description: 'Remove a directory and everything in it; succeeds if it is already gone.',
  params: pathOnly,
  operatorOwned: { path: 'path' },
  run: ({ path }) => removeDirIfExists(path),
});

export const removeFileHandler = defineHandler<{ path: string }>({
  name: 'fs.removeFile',
  description: 'Remove a file; succeeds if it is already gone; refuses to remove a directory.',
  params: pathOnly,
  operatorOwned: { path: 'path' },
  run: ({ path }) => removeFileIfExists(path),
});

export const moveHandler = defineHandler<{ from: string; to: string }>({
  name: 'fs.move',
  description: 'Move a file (copying across devices); done if already moved; never overwrites a different file.',
  params: {
    type: 'object',
    properties: {
      from: { ...PATH_SCHEMA, description: 'File to move.' },
      to: { ...PATH_SCHEMA, description: 'Destination file, or an existing directory / path ending in "/" to keep the name.' },
    },
    required: ['from', 'to'],
    additionalProperties: false,
  },
  operatorOwned: { from: 'path', to: 'path' },
  writes: 'to',
  async run({ from, to }, ctx) {
    const target = await moveFile(from, to);
    ctx.log.info({ from: resolve(from), to: target }, 'moved file');
  },
});
