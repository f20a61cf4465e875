// Runs the built `chartd serve` as a child process, as an operator would, and finds its URL.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ChildServer {
  readonly url: string;
  readonly child: ChildProcess;
  readonly stderr: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface CliAnswer {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built chartd once (`chartd ARGS…`, or `bin` for an installed one) and answers its exit code and output. */
export function runChartd(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; bin?: string } = {}): Promise<CliAnswer> {
  return new Promise((resolve) => {
    const [file, first] = options.bin ? [options.bin, []] : [process.execPath, [CLI]];
    const child = execFile(file, [...first, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin!.end(options.input ?? '');
  });
}

/** Starts `chartd serve` (the built one, or `bin` for an installed one) on a free port, in `cwd` if given. */
export async function spawnServer(args: string[], env: NodeJS.ProcessEnv = {}, where: { cwd?: string; bin?: string } = {}): Promise<ChildServer> {
  const [file, first] = where.bin ? [where.bin, []] : [process.execPath, [CLI]];
  const child = spawn(file, [...first, 'serve', '--port', '0', '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, ...(where.cwd !== undefined && { cwd: where.cwd }),
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (https?:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`chartd exited with ${code} before listening:\n${stderr}`)));
  });
  return {
    url, child, stderr: () => stderr,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
