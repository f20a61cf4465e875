// Runs an external program from an argument array and turns its failure into a readable, secret-free report.

import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface RunOptions {
  /** The child's whole environment, as with spawn; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Values masked as *** wherever they would appear in an error message. */
  secrets?: readonly string[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** How to get a program we shell out to, for the "not found" report. */
const INSTALL_HINTS: Readonly<Record<string, string>> = {
  pg_dump: 'postgresql-client',
  pg_restore: 'postgresql-client',
  psql: 'postgresql-client',
  initdb: 'postgresql',
  pg_ctl: 'postgresql',
  gpg: 'gnupg',
  gpgconf: 'gnupg',
  tar: 'tar',
  gzip: 'gzip',
  bzip2: 'bzip2',
  xz: 'xz-utils',
};

const STDERR_LINES = 20;
// Enough for the tail of any diagnostic; a chatty child must not grow our heap without bound.
const STDERR_KEEP_BYTES = 64 * 1024;
const STDOUT_MAX_BYTES = 16 * 1024 * 1024;
// Time a child gets to exit after SIGTERM before it is sent SIGKILL.
const KILL_GRACE_MS = 2000;

export async function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const program = programName(file);
  const secrets = options.secrets ?? [];
  if (options.cwd !== undefined) await assertDirectory(options.cwd, program);
  const wrapper = await deathSignalWrapper();
  const [command, argv] = wrapper ? [wrapper, ['--pdeathsig', 'KILL', '--', file, ...args]] : [file, [...args]];
  // Checked after the awaits above: an abort during them would otherwise go unheard.
  if (options.signal?.aborted) throw new Error(`${program} aborted before it started`);

  return new Promise<RunResult>((resolve, reject) => {
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      // detached = own process group, so a timeout also stops helpers such as tar's gzip.
      child = spawn(command, argv, {
        env: options.env ?? process.env,
        cwd: options.cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        shell: false,
        windowsHide: true,
      });
    } catch (error) {
      // E.g. a NUL byte in an argument. Node's message quotes the value (escaped, so redaction
      // would miss it), so only the error code is reported.
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      reject(new Error(`${program} could not be started (${code}): an argument or environment value is invalid, e.g. contains a NUL byte`));
      return;
    }

    let stdout = '';
    let stdoutBytes = 0;
    let stderr = '';
    let stopReason: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let exitTimer: NodeJS.Timeout | undefined;
    let settled = false;

    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdoutBytes += Buffer.byteLength(chunk);
      if (stdoutBytes <= STDOUT_MAX_BYTES) stdout += chunk;
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > STDERR_KEEP_BYTES * 2) stderr = stderr.slice(-STDERR_KEEP_BYTES);
    });

    const stop = (reason: string): void => {
      if (stopReason !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      stopReason = reason;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const onAbort = (): void => stop('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timeout = options.timeoutMs !== undefined
      ? setTimeout(() => stop(`timed out after ${options.timeoutMs}ms`), options.timeoutMs)
      : undefined;

    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      if (timeout) clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
      if (exitTimer) clearTimeout(exitTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve({ stdout, stderr });
    };

    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') finish(new Error(notFoundMessage(program)));
      else finish(new Error(redact(`${program} could not be started: ${error.message}`, secrets)));
    });
    // 'close' (not 'exit') so the last stderr lines are in before we report; but a daemon the
    // child left behind (gpg-agent) may hold the pipes open, so 'exit' settles it after a moment.
    child.on('exit', (code, signal) => {
      exitTimer = setTimeout(() => settle(code, signal), 1000);
    });
    child.on('close', (code, signal) => settle(code, signal));
    const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (stopReason !== undefined) {
        finish(new Error(describeFailure(`${program} ${stopReason}; killed`, stderr, secrets)));
      } else if (code === 0) {
        finish(undefined);
      } else if (wrapper && (code === 127 || code === 126) && stderr.startsWith(`${wrapper}: failed to execute`)) {
        finish(new Error(code === 127 ? notFoundMessage(program) : redact(`${program} could not be started: ${stderr.trim()}`, secrets)));
      } else if (signal) {
        finish(new Error(describeFailure(`${program} was killed by signal ${signal}`, stderr, secrets)));
      } else {
        finish(new Error(describeFailure(`${program} exited with code ${code}`, stderr, secrets)));
      }
    };
  });
}

let wrapperProbe: Promise<string | undefined> | undefined;

/**
 * On Linux, `setpriv --pdeathsig KILL` (util-linux) makes the kernel kill a child when chartd dies.
 * Without it, a pg_dump or tar left running by a chartd killed with -9 would go on writing the
 * very temp file the resumed attempt writes, and could slip a partial file into the archive.
 */
function deathSignalWrapper(): Promise<string | undefined> {
  // Probed once per process by running it: setpriv before util-linux 2.33 has no --pdeathsig.
  wrapperProbe ??= process.platform !== 'linux'
    ? Promise.resolve(undefined)
    : new Promise((resolve) => {
      execFile('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { timeout: 5000 }, (error) => resolve(error ? undefined : 'setpriv'));
    });
  return wrapperProbe;
}

/** Replaces every occurrence of every non-empty secret with ***. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret that contains another is masked whole.
  for (const secret of [...secrets].filter((value) => value.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('***');
  }
  return out;
}

/** The last `count` non-empty lines of a program's stderr. */
export function tailLines(text: string, count: number = STDERR_LINES): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim().length > 0).slice(-count);
}

function describeFailure(headline: string, stderr: string, secrets: readonly string[]): string {
  const tail = tailLines(stderr);
  const body = tail.length > 0 ? `:\n${tail.join('\n')}` : ' (no output on stderr)';
  return redact(headline + body, secrets);
}

function notFoundMessage(program: string): string {
  const hint = INSTALL_HINTS[program];
  return hint ? `${program} not found on PATH; install ${hint}` : `${program} not found on PATH`;
}

function programName(file: string): string {
  return file.split('/').pop() || file;
}

async function assertDirectory(cwd: string, program: string): Promise<void> {
  // spawn reports a missing cwd as ENOENT, which would read as "program not found".
  const info = await stat(cwd).catch(() => undefined);
  if (!info?.isDirectory()) throw new Error(`cannot run ${program}: working directory ${cwd} does not exist`);
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone, or was never formed; fall back to the child alone.
    try {
      process.kill(pid, signal);
    } catch {
      // Already exited: nothing left to stop.
    }
  }
}
