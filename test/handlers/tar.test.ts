// tar.create with real tar: archive, verify by extracting, remove the source, and be safe to repeat.

import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/handlers/exec.js';
import { FinalFailure } from '../../src/handlers/handler.js';
import { buildTarArgs, createArchiveHandler } from '../../src/handlers/tar.js';
import { makeStepContext } from '../support/stepContext.js';

let work: string;
const ctx = makeStepContext();

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chartd-tar-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const exists = (path: string) => stat(path).then(() => true, () => false);

async function makeDump(name: string): Promise<string> {
  const directory = join(work, name);
  await mkdir(directory);
  await writeFile(join(directory, 'schema.sql'), 'CREATE TABLE t (id int);\n');
  await writeFile(join(directory, 'data.sql'), 'COPY t (id) FROM stdin;\n1\n\\.\n');
  return directory;
}

/** Extracts an archive into a fresh directory and returns that directory. */
async function extract(archive: string): Promise<string> {
  const into = await mkdtemp(join(work, 'extract-'));
  await runCommand('tar', ['--extract', `--file=${archive}`, `--directory=${into}`]);
  return into;
}

describe('tar.create', () => {
  it('archives the directory under its own name, then removes it', async () => {
    const directory = await makeDump('20261122T060302Z');
    const file = join(work, '20261122T060302Z.tar.gz');
    await createArchiveHandler.run({ directory, file }, ctx);
    expect(await exists(directory)).toBe(false);
    const out = await extract(file);
    expect(await readdir(join(out, '20261122T060302Z'))).toEqual(['data.sql', 'schema.sql'].sort());
    expect(await readFile(join(out, '20261122T060302Z', 'schema.sql'), 'utf8')).toBe('CREATE TABLE t (id int);\n');
    expect((await readFile(file)).subarray(0, 2).toString('hex')).toBe('1f8b');
  });

  it('re-run after success succeeds and leaves the archive as it was', async () => {
    const directory = await makeDump('dump');
    const file = join(work, 'dump.tar.gz');
    await createArchiveHandler.run({ directory, file }, ctx);
    const before = await readFile(file);
    await createArchiveHandler.run({ directory, file }, ctx);
    expect((await readFile(file)).equals(before)).toBe(true);
    expect((await readdir(work)).sort()).toEqual(['dump.tar.gz']);
  });

  it('re-run after a crash between archiving and removal archives again and removes the directory', async () => {
    const directory = await makeDump('dump');
    const file = join(work, 'dump.tar.gz');
    await writeFile(file, 'stale archive from an interrupted run');
    await writeFile(join(work, '.dump.tar.gz.partial'), 'half-written');
    await createArchiveHandler.run({ directory, file }, ctx);
    expect(await exists(directory)).toBe(false);
    expect(await readdir(join(await extract(file), 'dump'))).toEqual(['data.sql', 'schema.sql']);
    expect(await readdir(work)).not.toContain('.dump.tar.gz.partial');
  });

  it.each([
    ['bzip2', '425a68'],
    ['xz', 'fd377a585a00'],
  ] as const)('compresses with %s', async (compression, magic) => {
    const directory = await makeDump('dump');
    const file = join(work, `dump.tar.${compression}`);
    await createArchiveHandler.run({ directory, file, compression }, ctx);
    expect((await readFile(file)).subarray(0, magic.length / 2).toString('hex')).toBe(magic);
    expect(await readdir(join(await extract(file), 'dump'))).toEqual(['data.sql', 'schema.sql']);
  });

  it('writes a plain tar with compression none', async () => {
    const directory = await makeDump('dump');
    const file = join(work, 'dump.tar');
    await createArchiveHandler.run({ directory, file, compression: 'none' }, ctx);
    expect((await readFile(file)).subarray(257, 262).toString()).toBe('ustar');
  });

  it('handles directory and file names that look like options or shell code', async () => {
    for (const name of ['-rf', '--remove-files', 'a;b $(touch pwned) `id`']) {
      const directory = await makeDump(name);
      const file = join(work, `${name}.tar.gz`);
      await createArchiveHandler.run({ directory, file }, ctx);
      expect(await exists(directory)).toBe(false);
      expect(await readdir(join(await extract(file), name))).toEqual(['data.sql', 'schema.sql']);
    }
    expect(await readdir(work)).not.toContain('pwned');
    expect(await readdir(process.cwd())).not.toContain('pwned');
  });

  it('names the directory after "--", relative to its parent', () => {
    expect(buildTarArgs('/srv/x/-rf', '/srv/x/-rf.tar.gz', 'gzip')).toEqual([
      '--create', '--force-local', '--file=/srv/x/-rf.tar.gz', '--gzip', '--directory=/srv/x', '--', '-rf',
    ]);
  });

  it('fails clearly when there is nothing to archive', async () => {
    const directory = join(work, 'gone');
    await expect(createArchiveHandler.run({ directory, file: join(work, 'gone.tar.gz') }, ctx))
      .rejects.toThrow(`tar.create: nothing to archive: ${directory} does not exist and neither does ${join(work, 'gone.tar.gz')}`);
  });

  it('keeps the source directory when tar fails, and reports tar\'s own words', async () => {
    const directory = await makeDump('dump');
    // A directory where tar wants to write its temp file makes tar itself fail.
    await mkdir(join(work, '.dump.tar.gz.partial'));
    const error = (await createArchiveHandler.run({ directory, file: join(work, 'dump.tar.gz') }, ctx).catch((caught: Error) => caught)) as Error;
    expect(error.message).toMatch(/^tar\.create: tar exited with code 2:\n/);
    expect(error.message).toContain('Cannot open');
    expect(await readdir(directory)).toEqual(['data.sql', 'schema.sql']);
    expect(await exists(join(work, 'dump.tar.gz'))).toBe(false);
  });

  it('refuses at once, without retries, when a directory stands where the archive must go', async () => {
    const directory = await makeDump('dump');
    await mkdir(join(work, 'dump.tar.gz'));
    const error = (await createArchiveHandler.run({ directory, file: join(work, 'dump.tar.gz') }, ctx).catch((caught: Error) => caught)) as Error;
    expect(error).toBeInstanceOf(FinalFailure);
    expect(error.message).toBe(`tar.create: ${join(work, 'dump.tar.gz')} is a directory`);
    expect(await readdir(directory)).toEqual(['data.sql', 'schema.sql']);
    expect(await readdir(join(work, 'dump.tar.gz'))).toEqual([]);
  });

  it('refuses an archive inside the directory it archives, and a missing destination directory', async () => {
    const directory = await makeDump('dump');
    await expect(createArchiveHandler.run({ directory, file: join(directory, 'self.tar.gz') }, ctx)).rejects.toThrow('would be inside the directory it archives');
    await expect(createArchiveHandler.run({ directory, file: join(work, 'nope', 'dump.tar.gz') }, ctx)).rejects.toThrow(`directory ${join(work, 'nope')} does not exist`);
    expect(await readdir(directory)).toEqual(['data.sql', 'schema.sql']);
  });

  it('does not start when the step is already aborted, and keeps the source', async () => {
    const directory = await makeDump('dump');
    const controller = new AbortController();
    controller.abort();
    await expect(createArchiveHandler.run({ directory, file: join(work, 'dump.tar.gz') }, makeStepContext({ signal: controller.signal })))
      .rejects.toThrow('tar.create: tar aborted before it started');
    expect(await readdir(directory)).toEqual(['data.sql', 'schema.sql']);
  });

  it('rejects an unknown compression', async () => {
    await expect(createArchiveHandler.run({ directory: work, file: '/x.tar', compression: 'zip' }, ctx)).rejects.toThrow('/compression must be equal to one of the allowed values');
  });
});
