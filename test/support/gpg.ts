// Test fixture: a throwaway GnuPG home with one unprotected key, to encrypt to and decrypt with.

import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../src/handlers/exec.js';

export interface GpgHome {
  readonly home: string;
  /** The key's e-mail address, usable as gpg.encrypt's recipient. */
  readonly recipient: string;
  decrypt(file: string, out: string): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeGpgHome(): Promise<GpgHome> {
  // Under /tmp and short: gpg-agent's socket lives in the home and socket paths are limited to ~100 bytes.
  const home = await mkdtemp(join(tmpdir(), 'chartd-gpg-'));
  await chmod(home, 0o700);
  const recipient = `backup-${randomBytes(4).toString('hex')}@chartd.invalid`;
  const unprotected = ['--batch', '--no-tty', '--homedir', home, '--pinentry-mode', 'loopback', '--passphrase', ''];
  const cleanup = async (): Promise<void> => {
    await runCommand('gpgconf', ['--homedir', home, '--kill', 'all']).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  };
  try {
    // future-default = ed25519/cv25519: generated in well under a second, no entropy wait.
    await runCommand('gpg', [...unprotected, '--quick-gen-key', `chartd test <${recipient}>`, 'future-default', 'default', 'never']);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    home,
    recipient,
    decrypt: async (file, out) => {
      await runCommand('gpg', [...unprotected, '--yes', '--output', out, '--decrypt', '--', file]);
    },
    cleanup,
  };
}
