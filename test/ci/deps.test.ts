// npm test sets itself up: .ci/deps.sh (its pretest script) installs what the tests need, or, where it cannot, stops
// at once naming each missing tool, its package and the one command that installs them. Tools are hidden here by a
// PATH without them, and the script runs as a user who may not install (nobody, when the suite runs as root).

import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../.ci/deps.sh', import.meta.url));
const HIDDEN = ['gpg', 'gpgconf', 'pg_dump', 'psql', 'sudo'];

let work: string;
let script: string;
let bin: string;
beforeAll(async () => {
  // A copy anyone may read (the checkout may not be), and every program on the system but the hidden ones, and this node.
  work = await mkdtemp(join(tmpdir(), 'chartd-deps-'));
  await chmod(work, 0o755);
  script = join(work, 'deps.sh');
  await copyFile(SCRIPT, script);
  await chmod(script, 0o644);
  bin = join(work, 'bin');
  await mkdir(bin, { mode: 0o755 });
  const linked = new Set<string>();
  for (const directory of [process.execPath.replace(/\/[^/]+$/, ''), '/usr/local/bin', '/usr/bin', '/bin']) {
    for (const name of await readdir(directory).catch(() => [] as string[])) {
      if (HIDDEN.includes(name) || linked.has(name)) continue;
      linked.add(name);
      await symlink(join(directory, name), join(bin, name));
    }
  }
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs the script as a user who cannot install (nobody, when this runs as root) with `path` as PATH. */
function deps(path: string): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];
  const [file, ...args] = [...asUser, 'env', `PATH=${path}`, 'HOME=/tmp', 'bash', script];
  return new Promise((resolve) => {
    execFile(file!, args, { cwd: work, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('.ci/deps.sh, the set-up of npm test', () => {
  it('is npm test\'s pretest script', async () => {
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(manifest.scripts['pretest']).toBe('bash .ci/deps.sh');
  });

  it('stops at once where tools are missing and it may not install, naming each tool, its package and the command', async () => {
    const answer = await deps(bin);
    expect(answer.code).toBe(1);
    expect(answer.stdout).toBe('');
    expect(answer.stderr).toBe([
      'deps: the tests need what is missing here: gpg, gpgconf (gnupg); pg_dump, psql (postgresql-client)',
      'deps: this user cannot install it; as root, run once (then npm test again):',
      `  bash ${script}`,
      '',
    ].join('\n'));
    expect(answer.ms).toBeLessThan(10_000);
  });

  it('says nothing is missing where everything is, as it is for this suite', async () => {
    const answer = await deps(process.env['PATH'] ?? '');
    expect(answer).toMatchObject({ code: 0, stdout: 'deps: all present\n', stderr: '' });
  });
});
