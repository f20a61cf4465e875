// tar handler: unify, compress and remove a directory, as backup-and-encrypt's compress step needs.

import { basename, dirname, resolve, sep } from 'node:path';
import { FinalFailure, type StepContext } from './handler.js';
import { defineHandler, PATH_SCHEMA } from './args.js';
import { runCommand } from './exec.js';
import { assertDirectoryExists, discardPartial, lstatIfExists, partialPathFor, removeDirIfExists, renameDurably, statIfExists } from './fs.js';

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'none';

export interface ArchiveArgs {
  directory: string;
  file: string;
  compression: Compression;
}

const COMPRESSION_FLAGS: Readonly<Record<Compression, string[]>> = {
  gzip: ['--gzip'],
  bzip2: ['--bzip2'],
  xz: ['--xz'],
  none: [],
};

/** The tar argument array: the directory is named after `--`, relative to its parent, so it can never read as an option. */
export function buildTarArgs(directory: string, archive: string, compression: Compression): string[] {
  return [
    '--create',
    // A colon in the name would otherwise make tar look for a remote host.
    '--force-local',
    `--file=${resolve(archive)}`,
    ...COMPRESSION_FLAGS[compression],
    `--directory=${dirname(directory)}`,
    '--',
    basename(directory),
  ];
}

/**
 * Archives `directory` into `file` and then removes the directory. Safe to repeat: the archive
 * is renamed into place whole before anything is removed, and "directory gone, archive present" is done.
 */
export async function archiveDirectory(args: ArchiveArgs, ctx: StepContext): Promise<void> {
  const directory = resolve(args.directory);
  const file = resolve(args.file);
  if (directory === dirname(directory)) throw new FinalFailure('refusing to archive the root directory');
  if (file.startsWith(directory + sep)) throw new FinalFailure(`archive ${file} would be inside the directory it archives`);

  const source = await lstatIfExists(directory);
  if (!source) {
    if ((await statIfExists(file))?.isFile()) {
      ctx.log.info({ directory, file }, 'already archived');
      return;
    }
    throw new Error(`nothing to archive: ${directory} does not exist and neither does ${file}`);
  }
  if (!source.isDirectory()) throw new FinalFailure(`${directory} is not a directory`);
  // A directory in the archive's place would make the final rename fail on every retry.
  if ((await lstatIfExists(file))?.isDirectory()) throw new FinalFailure(`${file} is a directory`);
  await assertDirectoryExists(dirname(file));

  const temp = partialPathFor(file);
  try {
    await runCommand('tar', buildTarArgs(directory, temp, args.compression), { env: ctx.childEnv(), signal: ctx.signal });
    await renameDurably(temp, file);
  } catch (error) {
    await discardPartial(temp);
    throw error;
  }
  await removeDirIfExists(directory);
  ctx.log.info({ directory, file, compression: args.compression }, 'archived and removed directory');
}

export const createArchiveHandler = defineHandler<ArchiveArgs>({
  name: 'tar.create',
  description: 'Archive a directory into one (compressed) tar file, then remove the directory.',
  params: {
    type: 'object',
    properties: {
      directory: { ...PATH_SCHEMA, description: 'Directory to archive; it is stored under its own name.' },
      file: { ...PATH_SCHEMA, description: 'Archive to write; its directory must exist.' },
      compression: { enum: ['gzip', 'bzip2', 'xz', 'none'], default: 'gzip', description: 'How the archive is compressed (default gzip).' },
    },
    required: ['directory', 'file'],
    additionalProperties: false,
  },
  operatorOwned: { directory: 'path', file: 'path' },
  writes: 'file',
  run: archiveDirectory,
});
