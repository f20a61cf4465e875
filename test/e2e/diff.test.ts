// `chartd diff` against a running server: over HTTP with a token, and from its data directory while it runs and after it stops.
import { execFile } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { CLI, spawnServer, type ChildServer } from '../support/child.js';
import { removeDir, tempDir } from '../support/server.js';

const OLD = `chart: gates
initial: first
states:
  first:
    gate: { count: 2 }
    next: second
  second:
    gate: { count: 1 }
    next: done
  done: { final: true }
`;
// second goes away: first now leads straight to done.
const NEW = `chart: gates
initial: first
states:
  first:
    gate: { count: 2 }
    next: done
  done: { final: true }
`;

const admin = newToken();
const reader = newToken();
let dir: string;
let server: ChildServer;

function chartd(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'diff', ...args], { timeout: 20_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

async function call(method: string, path: string, body?: unknown): Promise<number> {
  const response = await fetch(server.url + path, {
    method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  await response.text();
  return response.status;
}

/** Every file under the data directory with its size and modification time, to show a reader changed none. */
async function filesOf(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    found.push(`${path} ${info.size} ${info.mtimeMs}`);
  }
  return found.sort();
}

beforeAll(async () => {
  dir = await tempDir('chartd-diff-');
  await writeFile(join(dir, 'old.yaml'), OLD);
  await writeFile(join(dir, 'new.yaml'), NEW);
  await writeFile(join(dir, 'auth.yaml'), `tokens:\n  ops: { hash: '${hashOf(admin)}', scopes: [admin] }\n  reader: { hash: '${hashOf(reader)}', scopes: [read] }\n`);
  await writeFile(join(dir, 'reader.token'), `${reader}\n`);
  server = await spawnServer(['--chart', join(dir, 'old.yaml'), '--data', join(dir, 'data'), '--auth', join(dir, 'auth.yaml')]);
  for (const id of ['n1', 'n2', 'n3', 'n4']) expect(await call('POST', '/charts/gates/instances', { id })).toBe(201);
  // n1 and n2 pass the first gate into second, which NEW removes; n3 stays in first; default and n4 stay untouched.
  for (const id of ['n1', 'n2']) {
    for (let put = 0; put < 2; put++) expect(await call('PUT', `/charts/gates/instances/${id}/state?state=first`)).toBe(200);
  }
  expect(await call('PUT', '/charts/gates/instances/n3/state?state=first')).toBe(200);
});

afterAll(async () => {
  await server?.kill();
  await removeDir(dir);
});

describe('chartd diff', () => {
  it('lists the states NEW removes and changes, and exits 1', async () => {
    const { code, stdout } = await chartd([join(dir, 'old.yaml'), join(dir, 'new.yaml')]);
    expect(stdout).toContain(`chart gates: ${join(dir, 'old.yaml')} (version `);
    expect(stdout).toContain('  ~ first:\n      next: second -> done\n');
    expect(stdout).toContain('  - second: removed (gate)\n');
    expect(code).toBe(1);
    expect((await chartd([join(dir, 'old.yaml'), join(dir, 'old.yaml')])).code).toBe(0);
  });

  it('names the instances a running server holds in states NEW changes or removes, asking with a read token', async () => {
    const { code, stdout } = await chartd([join(dir, 'old.yaml'), join(dir, 'new.yaml'), '--server', server.url, '--token-file', join(dir, 'reader.token')]);
    expect(stdout).toContain(`stored instances (${server.url}): 5 active\n`);
    expect(stdout).toContain('  3 in first (changed): default, n3, n4\n');
    expect(stdout).toContain('  2 in second (removed): n1, n2\n');
    expect(stdout).toContain('  5 active instances sit in states NEW changes or removes; they stay on the version they started on');
    expect(code).toBe(1);
    const json = await chartd([join(dir, 'old.yaml'), join(dir, 'new.yaml'), '--server', server.url, '--json'], { CHARTD_TOKEN: reader });
    expect(JSON.parse(json.stdout)).toMatchObject({
      instances: { from: server.url, active: 5, stranded: [{ state: 'first', change: 'changed', count: 3 }, { state: 'second', change: 'removed', count: 2, ids: ['n1', 'n2'] }] },
    });
  });

  it('says a token is needed when the server asks for one, and exits 2', async () => {
    const { code, stderr } = await chartd([join(dir, 'old.yaml'), join(dir, 'new.yaml'), '--server', server.url], { CHARTD_TOKEN: '' });
    expect(stderr).toContain('answered 401: reading instances needs a token with the read scope (CHARTD_TOKEN or --token-file FILE)');
    expect(code).toBe(2);
  });

  it('reads the data directory of the running server without its lock and without changing a file, and the server goes on', async () => {
    const data = join(dir, 'data');
    const before = await filesOf(data);
    const lock = await readFile(join(data, 'LOCK'), 'utf8');
    const { code, stdout } = await chartd([join(dir, 'old.yaml'), join(dir, 'new.yaml'), '--data', data]);
    expect(stdout).toContain(`stored instances (${data}): 5 active\n`);
    expect(stdout).toContain('  2 in second (removed): n1, n2\n');
    expect(code).toBe(1);
    expect(await filesOf(data)).toEqual(before);
    expect(await readFile(join(data, 'LOCK'), 'utf8')).toBe(lock);
    expect(await call('PUT', '/charts/gates/instances/n4/state?state=first')).toBe(200);
  });

  it('reads it again once the server has stopped and checkpointed, with the change made meanwhile', async () => {
    await server.kill();
    const journals = await readdir(join(dir, 'data', 'journal'));
    const { stdout } = await chartd([join(dir, 'old.yaml'), join(dir, 'new.yaml'), '--data', join(dir, 'data'), '--json']);
    expect(JSON.parse(stdout)).toMatchObject({ instances: { active: 5, stranded: [{ state: 'first', ids: ['default', 'n3', 'n4'] }, { state: 'second', ids: ['n1', 'n2'] }] } });
    expect(await readdir(join(dir, 'data', 'journal'))).toEqual(journals);
  });

  it('prints its own help, and refuses --server with --data', async () => {
    expect(await chartd(['--help'])).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: chartd diff OLD NEW [--server URL') });
    expect(await chartd(['a.yaml', 'b.yaml', '--server', 'http://x', '--data', dir])).toMatchObject({ code: 2, stderr: expect.stringContaining('--server and --data both say where instances are stored; give one') });
  });

  it('names the problems of a chart that does not load, and exits 2', async () => {
    const { code, stderr } = await chartd([join(dir, 'old.yaml'), 'test/fixtures/charts/broken/two-drivers.yaml']);
    expect(stderr).toContain("test/fixtures/charts/broken/two-drivers.yaml:4: states.start: state 'start' has 2 drivers, gate and run; a state has exactly one");
    expect(code).toBe(2);
  });

  it('refuses a directory that holds no store, saying so', async () => {
    const { code, stderr } = await chartd([join(dir, 'old.yaml'), join(dir, 'new.yaml'), '--data', dir]);
    expect(stderr).toContain(`${dir} holds no chartd store (no store.json); is it the --data directory of a server?`);
    expect(code).toBe(2);
  });
});
