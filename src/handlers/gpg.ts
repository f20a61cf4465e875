// gpg handler: encrypt a file to one recipient's public key, writing the result whole or not at all.

import { dirname, resolve } from 'node:path';
import { FinalFailure, type StepContext } from './handler.js';
import { defineHandler, PATH_SCHEMA } from './args.js';
import { runCommand } from './exec.js';
import { assertDirectoryExists, discardPartial, partialPathFor, renameDurably, statIfExists } from './fs.js';

export interface EncryptArgs {
  file: string;
  output: string;
  recipient: string;
  homedir?: string;
}

/** The gpg argument array; the recipient follows its option as a separate word, so gpg reads it as a value. */
export function buildEncryptArgs(args: EncryptArgs, temp: string): string[] {
  // Keys come from the local keyring only: a backup job must not wait on a WKD or keyserver lookup.
  const argv = ['--batch', '--yes', '--no-tty', '--trust-model', 'always', '--auto-key-locate', 'local', '--no-auto-key-retrieve'];
  if (hasHomedir(args)) argv.push('--homedir', resolve(args.homedir));
  argv.push('--recipient', args.recipient, '--output', resolve(temp), '--encrypt', '--', resolve(args.file));
  return argv;
}

export async function encryptFile(args: EncryptArgs, ctx: StepContext): Promise<void> {
  const file = resolve(args.file);
  const output = resolve(args.output);
  if (file === output) throw new FinalFailure(`output ${output} is the file being encrypted`);

  const input = await statIfExists(file);
  if (!input) {
    // The plain file is only removed after a successful encryption, so this is a re-run of a finished step.
    if ((await statIfExists(output))?.isFile()) {
      ctx.log.info({ file, output }, 'already encrypted');
      return;
    }
    throw new Error(`nothing to encrypt: ${file} does not exist`);
  }
  if (!input.isFile()) throw new FinalFailure(`${file} is not a regular file`);
  await assertDirectoryExists(dirname(output));
  // Without this check gpg would create an empty keyring there and report only "No public key".
  if (hasHomedir(args)) await assertDirectoryExists(resolve(args.homedir));

  const temp = partialPathFor(output);
  try {
    await runCommand('gpg', buildEncryptArgs(args, temp), { env: ctx.childEnv(), signal: ctx.signal }).catch((error: Error) => {
      throw explainGpgFailure(error, args);
    });
    await renameDurably(temp, output);
  } catch (error) {
    await discardPartial(temp);
    throw error;
  }
  ctx.log.info({ file, output, recipient: args.recipient }, 'encrypted file');
}

/** "" means the default keyring, so a chart can pass an optional context value straight through. */
function hasHomedir(args: EncryptArgs): args is EncryptArgs & { homedir: string } {
  return args.homedir !== undefined && args.homedir !== '';
}

/** gpg's own words for a missing key are "skipped: No public key"; say plainly what is wrong first. */
function explainGpgFailure(error: Error, args: EncryptArgs): Error {
  if (!/No public key|unusable public key|No name/i.test(error.message)) return error;
  const keyring = hasHomedir(args) ? `the keyring in ${resolve(args.homedir)}` : 'the default keyring';
  // Retrying cannot conjure up a key; the step goes straight to its cleanup path.
  const failure = new FinalFailure(`no usable public key for recipient "${args.recipient}" in ${keyring}\n${error.message}`);
  failure.cause = error;
  return failure;
}

export const encryptHandler = defineHandler<EncryptArgs>({
  name: 'gpg.encrypt',
  description: "Encrypt a file to a recipient's public key; the plain file is left for a cleanup step.",
  params: {
    type: 'object',
    properties: {
      file: { ...PATH_SCHEMA, description: 'File to encrypt.' },
      output: { ...PATH_SCHEMA, description: 'Encrypted file to write; its directory must exist.' },
      recipient: { type: 'string', minLength: 1, description: 'Key ID, fingerprint, or user ID of the public key.' },
      homedir: { type: 'string', description: 'GnuPG home directory holding the keyring; "" or absent = GNUPGHOME or ~/.gnupg.' },
    },
    required: ['file', 'output', 'recipient'],
    additionalProperties: false,
  },
  operatorOwned: { file: 'path', output: 'path', homedir: 'path' },
  writes: 'output',
  run: encryptFile,
});
