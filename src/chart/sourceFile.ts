// Reads an operator's chart or model file: a regular file of at most 1 MiB of UTF-8, refused with a problem otherwise.

import { open } from 'node:fs/promises';
import { ChartInvalid } from './problem.js';

export const MAX_SOURCE_BYTES = 1024 * 1024;

/** The file's text; files over 1 MiB are refused before they are read whole. `kind` names the file in messages ("chart"). */
export async function readSourceFile(file: string, kind: string): Promise<string> {
  const refuse = (message: string): never => {
    throw new ChartInvalid([{ file, path: '', line: 0, message }]);
  };
  const tooBig = (bytes?: number): string => `the file is over the 1 MiB limit for ${kind} files${bytes === undefined ? '' : ` (${bytes} bytes)`}`;
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    return refuse(`cannot read the ${kind} file: ${describeFsError(error)}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) refuse('not a regular file');
    if (info.size > MAX_SOURCE_BYTES) refuse(tooBig(info.size));
    // Read one byte past the limit so a file that grew since stat() is still caught.
    const buffer = Buffer.alloc(MAX_SOURCE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_SOURCE_BYTES) refuse(tooBig());
    }
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buffer.subarray(0, length));
    } catch {
      return refuse('the file is not valid UTF-8 text');
    }
  } finally {
    await handle.close();
  }
}

export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (error as Error).message;
}
