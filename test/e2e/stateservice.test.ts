// chartd in place of StateService: its README session with curl and grep, a file it saved progress into, names of
// any text, keys it ignores; where chartd answers otherwise on purpose, the documented answer is pinned here.
import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServeConfig } from '../../src/servers.js';
import { CLI } from '../support/child.js';
import { runScript } from '../support/recipes.js';
import { capturingLogger, gateChart, removeDir, startTestServer, tempDir, TRAFFIC_LIGHT, writeCharts, type TestServer } from '../support/server.js';

let server: TestServer | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const dir of dirs.splice(0)) await removeDir(dir);
});

async function serve(charts: Record<string, string>, options: Partial<Omit<ServeConfig, 'chartPaths'>> = {}): Promise<TestServer> {
  const chartDir = await tempDir('chartd-ss-charts-');
  const dataDir = await tempDir('chartd-ss-data-');
  dirs.push(chartDir, dataDir);
  await writeCharts(chartDir, charts);
  server = await startTestServer({ chartDir, dataDir, ...options });
  return server;
}

/** Runs one shell command line as an operator would type it; curl and grep are the real ones. */
async function sh(command: string): Promise<{ code: number | null; stdout: string }> {
  const { code, stdout } = await runScript(command, {}).done;
  return { code, stdout };
}

/** The lines of an answer's head (curl -sI) other than its status line that hold 200 or 406. */
async function statusDigitsBesideTheStatus(url: string, method = 'GET'): Promise<string[]> {
  const { stdout } = await sh(`curl -sIX ${method} '${url}'`);
  return stdout.split('\r\n').slice(1).filter((line) => /200|406/.test(line));
}

describe("StateService's README session", () => {
  it('answers every line of it, verbatim, with the output its comments promise', async () => {
    const readme = await readFile('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('### The StateService session, verbatim'));
    const session = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
    const { url } = await serve({ 'traffic-light.yaml': TRAFFIC_LIGHT });
    const lines = session.trim().split('\n');
    let checked = 0;
    for (const [index, line] of lines.entries()) {
      if (line.startsWith('#')) continue;
      const { code, stdout } = await sh(line.replaceAll('http://localhost:5000', url));
      const promise = /^# Output is (.*)$/.exec(lines[index + 1] ?? '')?.[1];
      expect(code, line).toBe(0);
      if (promise) {
        expect(stdout.trim(), line).toBe(promise === '406' ? 'HTTP/1.1 406 Not Acceptable' : `HTTP/1.1 ${promise}`);
        checked += 1;
      }
    }
    expect(checked).toBe(4);
  });

  it('gives the yes/no of StateService to grep, curl -f and a grep of the body, whatever the revision', async () => {
    const { url } = await serve({ 'gates.yaml': gateChart(3000) });
    let revision = 1;
    for (const target of [200, 406, 1200, 1406, 2000, 2004, 2009]) {
      // Every PUT on the gate is accepted and moves the revision by one; sent in flights of 50 to get there fast.
      while (revision < target) {
        const flight = Math.min(50, target - revision);
        const answers = await Promise.all(Array.from({ length: flight }, () => fetch(`${url}/state?state=wait`, { method: 'PUT' }).then((answer) => answer.text())));
        expect(answers.every((text) => text === 'wait')).toBe(true);
        revision += flight;
      }
      const checks = await Promise.all([
        sh(`curl -sIX GET ${url}/state?state=open | grep 200`),
        sh(`curl -sIX GET ${url}/state?state=wait | grep 406`),
        sh(`curl -sI ${url}/state?state=open | grep -c 200`),
        sh(`curl -s ${url}/state?state=open | grep -q open`),
        sh(`curl -sf ${url}/state?state=open`),
        sh(`curl -sIX GET ${url}/state?state=wait | grep 200`),
        sh(`curl -s ${url}/state?state=wait | grep -qx wait`),
      ]);
      expect(checks.map((check) => check.code), `revision ${revision}`).toEqual([1, 1, 1, 1, 22, 0, 0]);
      // chartd's own route carries the revision, which is why its checks use -f or the status code, not grep.
      const own = await fetch(`${url}/charts/gates/state?state=open`);
      expect([own.status, own.headers.get('x-chartd-revision'), await own.text()]).toEqual([406, String(revision), 'open is not current']);
    }
  });

  it('never lets an error look like a yes: no head line but the status holds 200 or 406, however long the message', async () => {
    const { url } = await serve({ 'traffic-light.yaml': TRAFFIC_LIGHT, 'gates.yaml': gateChart(2) }, { defaultChart: 'traffic-light' });
    // Refused names are quoted in the message, so the error's length walks through 200 on the way.
    const paths = Array.from({ length: 80 }, (_, length) => [`/state?state=%0A${'x'.repeat(length)}`, `/charts/${'n'.repeat(length + 100)}/state?state=x`]).flat();
    paths.push('/state', '/state?state=a&state=b', '/state?state=green_state&wait=soon');
    const found: string[] = [];
    for (let start = 0; start < paths.length; start += 16) {
      const heads = await Promise.all(paths.slice(start, start + 16).map((path) => statusDigitsBesideTheStatus(`${url}${path}`)));
      found.push(...heads.flat());
    }
    expect(found).toEqual([]);
  });
});

describe('a file StateService has saved progress into', () => {
  it('is served from where it stopped, and left as it was', async () => {
    const file = 'test/fixtures/stateservice/saved-progress.yaml';
    const chartDir = await tempDir('chartd-ss-saved-');
    dirs.push(chartDir);
    await copyFile(file, join(chartDir, 'saved-progress.yaml'));
    const { log, lines } = capturingLogger('info');
    const dataDir = await tempDir('chartd-ss-data-');
    dirs.push(dataDir);
    server = await startTestServer({ chartDir, dataDir, log });
    const { url } = server;
    expect(lines.filter((line) => /note: state 'green_state' cannot be reached/.test(line.msg))).toHaveLength(1);
    expect((await fetch(`${url}/state?state=red_state`)).status).toBe(200);
    expect((await fetch(`${url}/state?state=green_state`)).status).toBe(406);
    // red_state counted one of its two check-ins under StateService: one more moves it on.
    expect((await fetch(`${url}/charts/saved-progress/instances/default`).then((answer) => answer.json()) as { counter: number }).counter).toBe(1);
    expect((await fetch(`${url}/state?state=red_state`, { method: 'PUT' })).status).toBe(200);
    expect((await fetch(`${url}/state?state=blue_state`)).status).toBe(200);
    expect(await readFile(join(chartDir, 'saved-progress.yaml'), 'utf8')).toBe(await readFile(file, 'utf8'));
  });
});

describe('state names of any text', () => {
  const NAMES = ['Grün Phase', 'phase 2/3', 'ステージ', 'a+b&c=d#e%f?', ' padded ', '🚦 done'];
  const chart = `current_state: ${JSON.stringify(NAMES[0])}
states:
${NAMES.slice(0, -1).map((name, index) => `  - name: ${JSON.stringify(name)}
    func: increment
    current: { key: count, value: 0 }
    target: { name: ${JSON.stringify(NAMES[index + 1])}, when: { key: count, value: 1 } }`).join('\n')}
  - name: ${JSON.stringify(NAMES.at(-1))}
`;

  it('are asked about and moved on, percent-encoded, by curl and by fetch; chartd\'s header carries them encoded', async () => {
    const { url } = await serve({ 'names.yaml': chart });
    for (const [index, name] of NAMES.slice(0, -1).entries()) {
      const asked = await sh(`curl -sfG --data-urlencode ${shellQuote(`state=${name}`)} ${url}/state`);
      expect(asked, name).toEqual({ code: 0, stdout: name });
      const own = await fetch(`${url}/charts/names/state?state=${encodeURIComponent(name)}`);
      expect([own.status, own.headers.get('x-chartd-state')], name).toEqual([200, encodeURIComponent(name)]);
      expect(decodeURIComponent(own.headers.get('x-chartd-state')!)).toBe(name);
      const listed = await fetch(`${url}/charts/names/instances?state=${encodeURIComponent(name)}`).then((answer) => answer.json()) as { instances: { id: string }[] };
      expect(listed.instances.map((instance) => instance.id)).toEqual(['default']);
      const next = NAMES[index + 1]!;
      const waiting = fetch(`${url}/charts/names/state?state=${encodeURIComponent(next)}&wait=10s`);
      const moved = await sh(`curl -sf -X PUT -G --data-urlencode ${shellQuote(`state=${name}`)} ${url}/state`);
      expect(moved, name).toEqual({ code: 0, stdout: name });
      expect((await waiting).status).toBe(200);
    }
    expect((await fetch(`${url}/state?state=${encodeURIComponent(NAMES.at(-1)!)}`)).status).toBe(200);
    // Compared exactly, as StateService compared them: the same letters composed otherwise are another name.
    expect((await fetch(`${url}/charts/names/instances?state=${encodeURIComponent(NAMES[0]!.normalize('NFD'))}`)).status).toBe(400);
    expect((await fetch(`${url}/charts/names/diagram.svg`)).status).toBe(200);
  });

  it('are refused with 400 only when no state could have them: control characters, over 255 bytes', async () => {
    const { url } = await serve({ 'names.yaml': chart });
    const refused = await fetch(`${url}/state?state=${encodeURIComponent('tab\there')}`);
    expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([400, 'invalid_name']);
    expect((await fetch(`${url}/state?state=${'x'.repeat(256)}`)).status).toBe(400);
    expect((await fetch(`${url}/state?state=${'x'.repeat(255)}`)).status).toBe(406);
  });
});

describe('keys StateService ignores', () => {
  const chart = TRAFFIC_LIGHT.replace('current_state: green_state\n', 'current_state: green_state\nowner: ops-team\n').replace('  - name: blue_state\n', '  - name: blue_state\n    description: the end\n');

  it('are warned of by chartd validate, which still passes the chart', async () => {
    const dir = await tempDir('chartd-ss-validate-');
    dirs.push(dir);
    await writeFile(join(dir, 'lights.yaml'), chart);
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'validate', join(dir, 'lights.yaml')]);
    expect(stdout.split('\n')).toEqual([
      `${join(dir, 'lights.yaml')}:2: owner: warning: key 'owner' is ignored: StateService does not read it, and neither does chartd (chartd reads current_state, models, states here)`,
      `${join(dir, 'lights.yaml')}:25: states[2].description: warning: key 'description' is ignored: StateService does not read it, and neither does chartd (chartd reads name, func, current, target here)`,
      expect.stringMatching(/^ok .*lights\.yaml: chart lights \(stateservice, 3 states, version [0-9a-f]{16}\)$/),
      '',
    ]);
  });

  it('are warned of at start-up, and the chart is served; owner: does not close it to the generic routes', async () => {
    const { log, lines } = capturingLogger('info');
    const { url } = await serve({ 'lights.yaml': chart }, { log });
    const warnings = lines.filter((line) => line.level === 40).map((line) => line.msg);
    expect(warnings).toEqual([expect.stringMatching(/lights\.yaml:2: owner: warning: key 'owner' is ignored/), expect.stringMatching(/lights\.yaml:25: states\[2\]\.description: warning/)]);
    expect((await fetch(`${url}/state?state=green_state`, { method: 'PUT' })).status).toBe(200);
  });
});

describe('where chartd answers otherwise on purpose', () => {
  it('answers 406, not 500, to a PUT on a final or timed state, and 400, not 500, to a request without a state', async () => {
    const timed = `current_state: soak
states:
  - name: soak
    func: time
    target: { name: done, when: { key: clock, value: "3000-01-01T00:00:00" } }
  - name: done
`;
    const { url } = await serve({ 'timed.yaml': timed });
    expect((await fetch(`${url}/state?state=soak`, { method: 'PUT' })).status).toBe(406);
    expect((await fetch(`${url}/state`)).status).toBe(400);
    expect((await fetch(`${url}/state`, { method: 'PUT' })).status).toBe(400);
    await server!.close();
    const { url: second } = await serve({ 'traffic-light.yaml': TRAFFIC_LIGHT });
    for (const state of ['green_state', 'red_state']) expect((await fetch(`${second}/state?state=${state}`, { method: 'PUT' })).status).toBe(200);
    expect((await fetch(`${second}/state?state=blue_state`, { method: 'PUT' })).status).toBe(406);
  });
});

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
