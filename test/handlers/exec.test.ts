// runCommand against real child processes: argument passing, failure reports, redaction, timeouts and aborts.

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redact, runCommand } from '../../src/handlers/exec.js';

const node = process.execPath;
let work: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chartd-exec-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs a small Node script as the child; everything after `--` reaches it as process.argv. */
function script(source: string, args: string[] = [], options: Parameters<typeof runCommand>[2] = {}) {
  return runCommand(node, ['-e', source, '--', ...args], options);
}

async function isAlive(pid: number): Promise<boolean> {
  // A killed process whose parent is gone may linger as a zombie in a container: that counts as dead.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && !/^\d+ \(.*\) Z/.test(stat);
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 100; i += 1) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.includes('\n')) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${path} never appeared`);
}

describe('runCommand', () => {
  it('returns stdout and stderr on success', async () => {
    const result = await script('process.stdout.write("out"); process.stderr.write("err")');
    expect(result).toEqual({ stdout: 'out', stderr: 'err' });
  });

  it('passes option-looking and shell-metacharacter arguments through verbatim, running no shell', async () => {
    const hostile = ['-rf', '--help', '; rm -rf ~', '$(touch pwned)', '`touch pwned2`', 'a b', '"quoted"', "'single'", '*', '|cat', '&& touch pwned3', '\nnewline'];
    const { stdout } = await script('console.log(JSON.stringify(process.argv.slice(1)))', hostile, { cwd: work });
    expect(JSON.parse(stdout)).toEqual(hostile);
    expect(await readdir(work)).toEqual([]);
  });

  it('reports the program, the exit code and the last 20 lines of stderr', async () => {
    const lines = 'for (let i = 1; i <= 30; i++) console.error("line-" + String(i).padStart(2, "0")); process.exit(3)';
    const error = await script(lines).catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/^node exited with code 3:\n/);
    expect(message).toContain('line-11');
    expect(message).toContain('line-30');
    expect(message).not.toContain('line-10');
    expect(message.split('\n')).toHaveLength(21);
  });

  it('says so when the program wrote nothing to stderr', async () => {
    await expect(script('process.exit(4)')).rejects.toThrow('node exited with code 4 (no output on stderr)');
  });

  it('redacts secrets from the failure report', async () => {
    const secret = 'hunter2-S3cr3t!';
    const failing = script('console.error("connecting with password=" + process.argv[1]); process.exit(1)', [secret], { secrets: [secret] });
    const error = (await failing.catch((caught: Error) => caught)) as Error;
    expect(error.message).toContain('password=***');
    expect(error.message).not.toContain(secret);
  });

  it('reports an argument Node cannot pass (a NUL byte) without echoing a secret', async () => {
    const secret = 'tok\0en-value';
    await expect(runCommand(node, ['-e', '', secret], { secrets: [secret] })).rejects.toThrow(/^node could not be started \(ERR_INVALID_ARG_VALUE\): (?![\s\S]*en-value)/);
  });

  it('masks a longer secret whole even when it contains a shorter one', () => {
    expect(redact('a token=abcdef and abc', ['abc', 'abcdef'])).toBe('a token=*** and ***');
    expect(redact('nothing to hide', ['', 'absent'])).toBe('nothing to hide');
  });

  it('names the package to install when the program is missing', async () => {
    const env = { ...process.env, PATH: work };
    await expect(runCommand('pg_dump', ['--version'], { env })).rejects.toThrow(/^pg_dump not found on PATH; install postgresql-client$/);
    await expect(runCommand('gpg', ['--version'], { env })).rejects.toThrow(/^gpg not found on PATH; install gnupg$/);
  });

  it('tells a missing working directory apart from a missing program', async () => {
    await expect(runCommand(node, ['-e', ''], { cwd: join(work, 'nope') })).rejects.toThrow(/working directory .*nope does not exist/);
  });

  it('reports death by signal', async () => {
    await expect(script('process.kill(process.pid, "SIGKILL")')).rejects.toThrow(/^node was killed by signal SIGKILL/);
  });

  it('kills the child and its helpers on timeout', async () => {
    const pids = join(work, 'pids');
    // The child starts a grandchild, as tar starts gzip: both must be gone after the timeout.
    const source = `
      const { spawn } = require('node:child_process');
      const grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      require('node:fs').writeFileSync(process.argv[1], process.pid + ' ' + grandchild.pid + '\\n');
      console.error('working');
      setInterval(() => {}, 1000);`;
    const started = Date.now();
    const error = (await script(source, [pids], { timeoutMs: 500 }).catch((caught: Error) => caught)) as Error;
    expect(error.message).toMatch(/^node timed out after 500ms; killed:\nworking/);
    expect(Date.now() - started).toBeLessThan(5000);
    const [child, grandchild] = (await waitForFile(pids)).trim().split(' ').map(Number);
    expect(await isAlive(child!)).toBe(false);
    await expect.poll(() => isAlive(grandchild!)).toBe(false);
  });

  it('sends SIGKILL to a child that ignores SIGTERM', async () => {
    const source = 'process.on("SIGTERM", () => {}); console.error("stubborn"); setInterval(() => {}, 1000)';
    const started = Date.now();
    await expect(script(source, [], { timeoutMs: 300 })).rejects.toThrow(/timed out after 300ms; killed/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
  });

  it('kills the child when the signal aborts', async () => {
    const controller = new AbortController();
    const pidFile = join(work, 'pid');
    const running = script('require("node:fs").writeFileSync(process.argv[1], process.pid + "\\n"); setInterval(() => {}, 1000)', [pidFile], { signal: controller.signal });
    const pid = Number((await waitForFile(pidFile)).trim());
    controller.abort();
    await expect(running).rejects.toThrow(/^node aborted; killed/);
    expect(await isAlive(pid)).toBe(false);
  });

  it('a child dies with a chartd killed by -9, so it cannot race the resumed attempt (Linux)', async () => {
    const pidFile = join(work, 'pid');
    const parentScript = join(work, 'parent.mjs');
    // A stand-in for chartd: the built runCommand running a child that would outlive it.
    await writeFile(parentScript, `import { runCommand } from ${JSON.stringify(new URL('../../dist/handlers/exec.js', import.meta.url).href)};
await runCommand(process.execPath, ['-e', 'require("node:fs").writeFileSync(process.argv[1], process.pid + String.fromCharCode(10)); setInterval(() => {}, 1000)', '--', process.argv[2]]);
`);
    const parent = spawn(node, [parentScript, pidFile], { stdio: 'ignore' });
    const exited = new Promise((resolve) => parent.once('exit', resolve));
    let child = 0;
    try {
      child = Number((await waitForFile(pidFile)).trim());
      expect(await isAlive(child)).toBe(true);
      parent.kill('SIGKILL');
      await exited;
      await expect.poll(() => isAlive(child), { timeout: 2000 }).toBe(false);
    } finally {
      parent.kill('SIGKILL');
      if (child > 0 && (await isAlive(child))) process.kill(child, 'SIGKILL');
    }
  });

  it('does not start a program when the signal is already aborted', async () => {
    const marker = join(work, 'ran');
    const controller = new AbortController();
    controller.abort();
    await expect(script('require("node:fs").writeFileSync(process.argv[1], "x")', [marker], { signal: controller.signal }))
      .rejects.toThrow('node aborted before it started');
    expect(await readdir(work)).toEqual([]);
  });
});
