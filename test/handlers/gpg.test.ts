// gpg.encrypt with real gpg and a throwaway keyring: encrypt, decrypt back, repeat safely, fail clearly.

import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildEncryptArgs, encryptHandler } from '../../src/handlers/gpg.js';
import { FinalFailure } from '../../src/handlers/handler.js';
import { makeGpgHome, type GpgHome } from '../support/gpg.js';
import { makeStepContext } from '../support/stepContext.js';

let gpg: GpgHome;
let work: string;
const ctx = makeStepContext();

beforeAll(async () => {
  gpg = await makeGpgHome();
});
afterAll(async () => {
  await gpg?.cleanup();
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chartd-gpg-work-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const exists = (path: string) => stat(path).then(() => true, () => false);

async function encryptAndCheck(name: string): Promise<void> {
  const file = join(work, name);
  const output = `${file}.gpg`;
  await writeFile(file, `secret backup of ${name}\n`);
  await encryptHandler.run({ file, output, recipient: gpg.recipient, homedir: gpg.home }, ctx);
  const plain = await readFile(output);
  expect(plain.toString()).not.toContain('secret backup');
  await gpg.decrypt(output, join(work, 'decrypted'));
  expect(await readFile(join(work, 'decrypted'), 'utf8')).toBe(`secret backup of ${name}\n`);
  expect(await readFile(file, 'utf8')).toBe(`secret backup of ${name}\n`);
}

describe('gpg.encrypt', () => {
  it('encrypts to the recipient, leaving the plain file for the cleanup step', async () => {
    await encryptAndCheck('20261122T060302Z.tar.gz');
    expect((await readdir(work)).sort()).toEqual(['20261122T060302Z.tar.gz', '20261122T060302Z.tar.gz.gpg', 'decrypted']);
  });

  it('re-run after success succeeds and still decrypts', async () => {
    const file = join(work, 'dump.tar.gz');
    const output = join(work, 'dump.tar.gz.gpg');
    await writeFile(file, 'payload');
    const args = { file, output, recipient: gpg.recipient, homedir: gpg.home };
    await encryptHandler.run(args, ctx);
    await encryptHandler.run(args, ctx);
    await gpg.decrypt(output, join(work, 'out'));
    expect(await readFile(join(work, 'out'), 'utf8')).toBe('payload');
  });

  it('counts "plain file gone, encrypted file present" as done', async () => {
    const output = join(work, 'dump.tar.gz.gpg');
    await writeFile(output, 'from an earlier run');
    await encryptHandler.run({ file: join(work, 'dump.tar.gz'), output, recipient: gpg.recipient, homedir: gpg.home }, ctx);
    expect(await readFile(output, 'utf8')).toBe('from an earlier run');
  });

  it('handles file names that look like options or shell code', async () => {
    await encryptAndCheck('-rf');
    await encryptAndCheck('--output');
    await encryptAndCheck('a;b $(touch pwned) `id`');
    expect(await readdir(work)).not.toContain('pwned');
  });

  it('fails clearly for an unknown recipient and leaves no output behind', async () => {
    const file = join(work, 'dump.tar.gz');
    const output = join(work, 'dump.tar.gz.gpg');
    await writeFile(file, 'payload');
    for (const recipient of ['nobody@chartd.invalid', '-rf', '--decrypt']) {
      const error = (await encryptHandler.run({ file, output, recipient, homedir: gpg.home }, ctx).catch((caught: Error) => caught)) as Error;
      expect(error.message).toContain(`gpg.encrypt: no usable public key for recipient "${recipient}" in the keyring in ${gpg.home}`);
      expect(error.message).toContain('No public key');
      expect(error).toBeInstanceOf(FinalFailure);
    }
    expect((await readdir(work)).sort()).toEqual(['dump.tar.gz']);
  });

  it('fails clearly when the keyring directory or the input is missing', async () => {
    const file = join(work, 'dump.tar.gz');
    await writeFile(file, 'payload');
    await expect(encryptHandler.run({ file, output: `${file}.gpg`, recipient: gpg.recipient, homedir: join(work, 'nokeys') }, ctx))
      .rejects.toThrow(`gpg.encrypt: directory ${join(work, 'nokeys')} does not exist`);
    await expect(encryptHandler.run({ file: join(work, 'gone'), output: join(work, 'gone.gpg'), recipient: gpg.recipient, homedir: gpg.home }, ctx))
      .rejects.toThrow(`gpg.encrypt: nothing to encrypt: ${join(work, 'gone')} does not exist`);
    await mkdir(join(work, 'adir'));
    await expect(encryptHandler.run({ file: join(work, 'adir'), output: join(work, 'adir.gpg'), recipient: gpg.recipient, homedir: gpg.home }, ctx))
      .rejects.toThrow('is not a regular file');
    expect(await exists(`${file}.gpg`)).toBe(false);
  });

  it('keeps the recipient a value and the input after "--"', () => {
    const args = buildEncryptArgs({ file: '/w/-rf', output: '/w/x.gpg', recipient: '--decrypt', homedir: '/keys' }, '/w/.x.gpg.partial');
    expect(args.slice(args.indexOf('--recipient'), args.indexOf('--recipient') + 2)).toEqual(['--recipient', '--decrypt']);
    expect(args.slice(-3)).toEqual(['--encrypt', '--', '/w/-rf']);
    expect(args).toContain('--batch');
  });
});
