// Safe by default, as an operator meets it: the command line refuses to expose chartd without tokens, makes tokens,
// and a client with one gets in with curl -K; the zone's routes pass the same door.

import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { createLogger } from '../../src/log.js';
import { startZoneServer, type RunningZone } from '../../src/servers.js';
import { CLI, spawnServer } from '../support/child.js';
import { removeDir, tempDir } from '../support/server.js';

const run = promisify(execFile);

function chartd(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

let dir: string;
beforeAll(async () => {
  dir = await tempDir('chartd-exposure-');
});
afterAll(async () => {
  await removeDir(dir);
});

describe('chartd serve beyond loopback', () => {
  it('refuses to start without --auth, saying how to fix it, and leaves the data directory unlocked', async () => {
    const data = join(dir, 'refused');
    const answer = await chartd(['serve', '--host', '0.0.0.0', '--port', '0', '--data', data]);
    expect(answer.code).toBe(1);
    expect(answer.stderr).toContain('refusing to listen on 0.0.0.0 without authentication');
    expect(answer.stderr).toContain('--auth FILE');
    expect(answer.stderr).toContain('--insecure-no-auth');
    expect(await readdir(data).catch(() => [])).toEqual([]);
  });

  it('starts with --insecure-no-auth, warning at start-up and on /healthz', async () => {
    const server = await spawnServer(['--host', '0.0.0.0', '--insecure-no-auth', '--data', join(dir, 'insecure')]);
    try {
      const health = await (await fetch(server.url.replace('0.0.0.0', '127.0.0.1') + '/healthz')).json() as { access: { authentication: string; warning: string } };
      expect(health.access.authentication).toBe('off');
      expect(health.access.warning).toContain('--insecure-no-auth');
      expect(server.stderr()).toContain('authentication is off (--insecure-no-auth)');
      // Without --auth an Authorization header of any kind is no reason to refuse (a proxy's Basic credentials, say).
      for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer chartd_from_another_server_000000000000']) {
        const answer = await fetch(server.url.replace('0.0.0.0', '127.0.0.1') + '/charts', { headers: { authorization } });
        expect(answer.status, authorization).toBe(200);
      }
    } finally {
      await server.kill();
    }
  });

  it('takes --auth or --insecure-no-auth, not both, and a broken auth file stops it with file:line', async () => {
    const both = await chartd(['serve', '--auth', 'x.yaml', '--insecure-no-auth']);
    expect(both).toMatchObject({ code: 2, stderr: expect.stringContaining('--auth and --insecure-no-auth contradict each other') });
    const file = join(dir, 'broken-auth.yaml');
    await writeFile(file, 'tokens:\n  ops: { hash: nope, scopes: [root] }\n');
    const broken = await chartd(['serve', '--auth', file, '--port', '0', '--data', join(dir, 'broken')]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`${file}:2: tokens.ops.hash: a hash is sha256:`);
    expect(broken.stderr).toContain(`${file}:2: tokens.ops.scopes[0]: unknown scope 'root'`);
  });
});

describe('a token from chartd token new', () => {
  it('goes into the auth file as printed, and curl -K with it reads and writes; without it curl -f fails', async () => {
    const made = await chartd(['token', 'new', 'chef-fleet', '--scope', 'read', '--scope', 'write:traffic-light', '--caller', 'web*']);
    expect(made.code).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^chartd_\S{43}$/);
    expect(made.stderr).not.toContain(token);
    const lines = made.stderr.split('\n').filter((line) => line.startsWith('  '));
    expect(lines[0]).toBe('  chef-fleet:');
    await writeFile(join(dir, 'auth.yaml'), `reads: token\ntokens:\n${lines.join('\n')}\n`);
    const curlConfig = join(dir, 'chartd.curl');
    await writeFile(curlConfig, `header = "Authorization: Bearer ${token}"\n`, { mode: 0o600 });

    const server = await spawnServer(['--auth', join(dir, 'auth.yaml'), '--chart', 'charts', '--default-chart', 'traffic-light', '--data', join(dir, 'tokens')]);
    try {
      const curl = (...args: string[]) => run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args]).then(({ stdout }) => stdout);
      expect(await curl(`${server.url}/state?state=green_state`)).toBe('401');
      expect(await curl('-K', curlConfig, `${server.url}/state?state=green_state`)).toBe('200');
      expect(await curl('-K', curlConfig, '-X', 'PUT', `${server.url}/state?state=green_state&by=web1`)).toBe('200');
      expect(await curl('-K', curlConfig, `${server.url}/state?state=red_state`)).toBe('200');
      expect(await curl('-K', curlConfig, '-X', 'PUT', `${server.url}/state?state=red_state&by=db1`)).toBe('403');
      expect(await curl('-K', curlConfig, '-X', 'POST', '-H', 'content-type: application/json', '-d', '{"id":"x"}', `${server.url}/charts/rolling-upgrade/instances`)).toBe('403');
      await expect(run('curl', ['-sf', `${server.url}/state?state=red_state`])).rejects.toMatchObject({ code: 22 });
    } finally {
      await server.kill();
    }
  });

  it('chartd token hash gives the hash of an existing token, for tokens made elsewhere', async () => {
    const existing = 'f'.repeat(40);
    expect(await chartd(['token', 'hash'], `${existing}\n`)).toMatchObject({ code: 0, stdout: `${hashOf(existing)}\n` });
    expect(await chartd(['token', 'hash'], 'short\n')).toMatchObject({ code: 2, stderr: expect.stringContaining('shorter than 16 characters') });
  });
});

describe('the zone\'s routes', () => {
  let zone: RunningZone;
  const controllerToken = newToken();
  const monitor = newToken();
  beforeAll(async () => {
    const root = join(dir, 'zone');
    await mkdir(join(root, 'storage'), { recursive: true });
    process.env['CHARTD_EXPOSURE_ZONE_TOKEN'] = controllerToken;
    process.env['CHARTD_EXPOSURE_RESULTS_TOKEN'] = newToken();
    await writeFile(join(root, 'auth.yaml'), `tokens:\n  monitor: { hash: '${hashOf(monitor)}', scopes: [read] }\n`);
    zone = await startZoneServer({
      name: 'east', storageRoot: join(root, 'storage'), dataDir: join(root, 'data'), port: 0, host: '127.0.0.1',
      controllerUrl: 'http://127.0.0.1:9', token: { env: 'CHARTD_EXPOSURE_ZONE_TOKEN' }, controllerToken: { env: 'CHARTD_EXPOSURE_RESULTS_TOKEN' },
      authFile: join(root, 'auth.yaml'), log: createLogger('silent'),
    });
  });
  afterAll(async () => {
    await zone?.close();
  });

  it('POST /orders: 401 without or with an unknown token, 403 for a read-only one, through for the controller\'s', async () => {
    const order = (token?: string) => fetch(`${zone.url}/orders`, {
      method: 'POST', body: '{"requestId":"r1"}',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    expect((await order()).status).toBe(401);
    expect((await order(newToken())).status).toBe(401);
    const readOnly = await order(monitor);
    expect(readOnly.status).toBe(403);
    expect(((await readOnly.json()) as { error: { message: string } }).error.message).toContain('it needs the scope write on chart backup-and-encrypt');
    const controller = await order(controllerToken);
    expect(controller.status).toBe(400);
    expect(((await controller.json()) as { error: { code: string } }).error.code).toBe('invalid_order');
    expect((await fetch(`${zone.url}/orders/r1`, { headers: { authorization: `Bearer ${monitor}` } })).status).toBe(404);
    expect((await fetch(`${zone.url}/healthz`)).status).toBe(200);
  });

  it('every route of the zone passes through the guard first', async () => {
    const { isGuard } = await import('../../src/http/guard.js');
    const router = zone.app.middleware.map((middleware) => (middleware as { router?: { stack: { stack: unknown[] }[] } }).router).find(Boolean)!;
    expect(router.stack.length).toBeGreaterThanOrEqual(3);
    expect(router.stack.every((layer) => isGuard(layer.stack[0]))).toBe(true);
  });
});
