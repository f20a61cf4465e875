// Every runnable recipe in docs/recipes.md, executed against a real server: bash for shell, the Chef recipe's
// shell strings through sh -c as Chef runs them; ansible.test.ts runs the playbook. If the docs and chartd disagree, this fails.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import {
  client, createRun, fakeTooling, getRun, NODES, readRecipes, recipe, rollingUpgradeChart, runScript, waitForRun, waitForState,
  type FakeTooling, type Recipe, type Snapshot,
} from '../support/recipes.js';
import { restartOnSamePort } from '../support/restart.js';
import { removeDir, startTestServer, tempDir, writeCharts, type TestServer } from '../support/server.js';

let server: TestServer;
let workDir: string;
let recipes: Map<string, Recipe>;
let tooling: FakeTooling;
let runs = 0;
// As the recipes say: the operator starts runs with its own token; the nodes share one bound to their names.
const operatorToken = newToken();
const fleetToken = newToken();
let operatorCurl: string;
let fleetCurl: string;

beforeAll(async () => {
  const chartDir = await tempDir('chartd-recipes-charts-');
  workDir = await tempDir('chartd-recipes-work-');
  // The real chart, with a short window; its timeouts stay long, so no test here trips one by accident.
  await writeCharts(chartDir, { 'rolling-upgrade.yaml': await rollingUpgradeChart({ window: '300ms' }) });
  await writeFile(join(workDir, 'auth.yaml'), `reads: token
tokens:
  operator: { hash: '${hashOf(operatorToken)}', scopes: [read, { write: [rolling-upgrade] }] }
  web-fleet: { hash: '${hashOf(fleetToken)}', scopes: [read, { write: [rolling-upgrade] }], callers: ['web*'] }
`);
  [operatorCurl, fleetCurl] = [join(workDir, 'operator.curl'), join(workDir, 'web-fleet.curl')];
  await writeFile(operatorCurl, `header = "Authorization: Bearer ${operatorToken}"\n`, { mode: 0o600 });
  await writeFile(fleetCurl, `header = "Authorization: Bearer ${fleetToken}"\n`, { mode: 0o600 });
  client.headers = { authorization: `Bearer ${operatorToken}` };
  server = await startTestServer({ chartDir, dataDir: await tempDir('chartd-recipes-data-'), authFile: join(workDir, 'auth.yaml') });
  recipes = await readRecipes();
  tooling = await fakeTooling(workDir);
});

afterAll(async () => {
  await server?.close();
  for (const dir of [server?.chartDir, server?.dataDir, workDir]) if (dir) await removeDir(dir);
});

/** A fresh run id and release per test, so runs and webapp-ctl calls never mix. */
function newRun(): { run: string; release: string } {
  runs += 1;
  return { run: `2026-11-22-release-${runs}`, release: `2026.11.22-${runs}` };
}

function operatorEnv(run: string, release: string): NodeJS.ProcessEnv {
  return { CHARTD: server.url, CHARTD_CURL: operatorCurl, RUN: run, RELEASE: release };
}

async function callsFor(release: string): Promise<string[]> {
  return (await tooling.calls()).filter((line) => line.endsWith(` ${release}`)).map((line) => line.replace(` ${release}`, '')).sort();
}

const everyPhase = (phases: string[]) => NODES.flatMap((node) => phases.map((phase) => `${node} ${phase}`)).sort();

async function checkIn(run: string, state: string, node: string): Promise<number> {
  const answer = await fetch(`${server.url}/charts/rolling-upgrade/instances/${run}/state?state=${state}&by=${node}`, { method: 'PUT', headers: { authorization: `Bearer ${fleetToken}` } });
  await answer.arrayBuffer();
  return answer.status;
}

function moves(snapshot: Snapshot): string[] {
  return snapshot.history.map((entry) => `${entry.from ?? '-'}>${entry.to} ${entry.cause}${entry.caller ? ` ${entry.caller}` : ''}`);
}

describe('docs/recipes.md', () => {
  it('marks exactly the recipes this file and ansible.test.ts run, so a new one cannot go untested', () => {
    expect([...recipes.keys()].sort()).toEqual(['ansible', 'chef', 'create-run', 'is-it-open', 'node-agent', 'watch', 'watch-resume']);
  });
});

describe('starting and watching a run', () => {
  it('create-run creates the run once, repeats harmlessly, and refuses another release under the same id', async () => {
    const { run, release } = newRun();
    const create = recipe(recipes, 'create-run', 'bash').code;
    const first = await runScript(create, operatorEnv(run, release)).done;
    expect(first.code, first.stderr).toBe(0);
    const created = JSON.parse(first.stdout) as Snapshot & { id: string };
    expect(created).toMatchObject({ id: run, state: 'window', context: { release } });
    const again = await runScript(create, operatorEnv(run, release)).done;
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { createdAt: string }).createdAt).toBe((created as unknown as { createdAt: string }).createdAt);
    const other = await runScript(create, operatorEnv(run, `${release}-other`)).done;
    expect(other.code).toBe(22);
    expect(other.stderr).toMatch(/409/);
    expect((await getRun(server.url, run)).context).toEqual({ release });
  });

  it('is-it-open exits 0 while drain is current and 22 once it has moved on', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    await waitForState(server.url, run, 'drain');
    const open = await runScript(recipe(recipes, 'is-it-open', 'bash').code, operatorEnv(run, release)).done;
    expect(open.code).toBe(0);
    expect(open.stdout).toBe('drain is open\n');
    for (const node of NODES) expect(await checkIn(run, 'drain', node)).toBe(200);
    const closed = await runScript(recipe(recipes, 'is-it-open', 'bash').code, operatorEnv(run, release)).done;
    expect(closed.code).toBe(22);
    expect(closed.stdout).toBe('');
  });

  it('watch streams each transition with its revision; watch-resume replays only what was missed', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    const watch = runScript(recipe(recipes, 'watch', 'bash').code, operatorEnv(run, release));
    await watch.output((out) => out.includes(': watching'));
    await waitForState(server.url, run, 'drain');
    for (const node of NODES) await checkIn(run, 'drain', node);
    await watch.output((out) => out.includes('"to":"upgrade"'));
    await watch.stop();
    const seen = parseEvents(watch.stdout());
    expect(seen.map((event) => `${event.data.from}>${event.data.to}`)).toEqual(['window>drain', 'drain>upgrade']);
    expect(seen.map((event) => event.id)).toEqual(seen.map((event) => event.data.revision));
    expect(seen[1]!.data).toMatchObject({ cause: 'put', caller: 'web3' });

    const resume = runScript(recipe(recipes, 'watch-resume', 'bash').code, { ...operatorEnv(run, release), LAST: String(seen[0]!.id) });
    await resume.output((out) => out.includes('"to":"upgrade"'));
    await resume.stop();
    expect(parseEvents(resume.stdout()).map((event) => event.data.to)).toEqual(['upgrade']);
  });
});

describe('the node agent in plain shell', () => {
  const agent = () => recipe(recipes, 'node-agent', 'bash').code;
  const startAgents = (run: string, release: string, extra: NodeJS.ProcessEnv = {}, fail: string[] = [], hold: string[] = []) =>
    NODES.map((node) => runScript(agent(), { ...operatorEnv(run, release), CHARTD_CURL: fleetCurl, NODE: node, ...tooling.env(node, fail, hold), ...extra }));

  it('takes three nodes through every phase to done, each doing each phase once', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    const results = await Promise.all(startAgents(run, release).map((agent) => agent.done));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const snapshot = await getRun(server.url, run);
    expect(snapshot.state).toBe('done');
    expect(moves(snapshot).slice(1).map((move) => move.split(' ').slice(0, 2).join(' '))).toEqual([
      'window>drain timer', 'drain>upgrade put', 'upgrade>verify put', 'verify>done put',
    ]);
    expect(await callsFor(release)).toEqual(everyPhase(['drain', 'upgrade', 'verify']));
  });

  it('reports event=failed when a node fails its upgrade, and all three nodes roll back', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    // WAIT=1s: the nodes already waiting for verify notice the rollback within a second.
    const results = await Promise.all(startAgents(run, release, { WAIT: '1s' }, ['web2:upgrade']).map((agent) => agent.done));
    for (const result of results) expect(result.code, result.stderr).toBe(1);
    const snapshot = await waitForRun(server.url, run, (s) => s.status === 'done');
    expect(snapshot.state).toBe('rolled_back');
    expect(moves(snapshot)).toContain('upgrade>rollback event:failed web2');
    const calls = await callsFor(release);
    // web1 and web3 may or may not have started their upgrade before web2 failed; nobody reaches verify.
    expect(calls.filter((call) => !call.endsWith(' upgrade'))).toEqual(everyPhase(['drain', 'rollback']));
    expect(calls).toContain('web2 upgrade');
  });

  it('rides out a chartd restart: counted nodes stay counted, parked nodes reconnect and finish', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    const agents = startAgents(run, release, {}, [], ['web3:upgrade']);
    // web1 and web2 check in to upgrade and park on verify; web3 is held inside its upgrade.
    const before = await waitForRun(server.url, run, (s) => s.state === 'upgrade' && s.callers.length === 2);
    expect([...before.callers].sort()).toEqual(['web1', 'web2']);
    server = await restartOnSamePort(server);
    const after = await getRun(server.url, run);
    expect({ state: after.state, callers: [...after.callers].sort(), revision: after.revision }).toEqual({ state: 'upgrade', callers: ['web1', 'web2'], revision: before.revision });
    await tooling.release();
    const results = await Promise.all(agents.map((agent) => agent.done));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    expect((await getRun(server.url, run)).state).toBe('done');
    expect(await callsFor(release)).toEqual(everyPhase(['drain', 'upgrade', 'verify']));
  });
});

describe('Chef', () => {
  // No Chef client runs here. What is run is each command, only_if and not_if string of the recipe's execute
  // resources, with #{…} filled in as Ruby would for one node and phase, through /bin/sh -c as Chef's execute
  // and its string guards do. Chef's own part (the loop, the order of resources, the rule that a resource runs
  // when only_if exits 0 and not_if does not, a failed command ending the converge) is this test's assumption.
  const ruby = () => recipe(recipes, 'chef', 'ruby').code;

  /** The values of the Ruby variables the strings use, for one node; the recipe's own lines that set them are checked below. */
  const variables = (run: string, release: string, node: string): Record<string, string> => ({
    auth: fleetCurl, release, me: node,
    state: `${server.url}/charts/rolling-upgrade/instances/${run}/state`,
    marks: `${workDir}/chef-${node}/rolling-upgrade/${run}`,
  });

  it('sets the variables its shell strings use the way this test fills them in', () => {
    const code = ruby();
    for (const line of [
      "auth    = node['chartd']['curl_config']", 'me      = node[\'hostname\']', 'state   = "#{chartd}/charts/rolling-upgrade/instances/#{run}/state"',
      'marks   = "#{Chef::Config[:file_cache_path]}/rolling-upgrade/#{run}"', '%w(drain upgrade verify rollback).each do |phase|',
    ]) expect(code).toContain(line);
    expect(chefExecutes(code).map((execute) => execute.name)).toEqual(['rolling-upgrade #{phase}', 'rolling-upgrade #{phase} check-in']);
  });

  /** One converge of the recipe on `node`, as Chef would carry it out; `fail` makes webapp-ctl fail where it says. */
  async function converge(run: string, release: string, node: string, fail: string[] = []): Promise<{ ran: string[]; failed?: string }> {
    const vars = variables(run, release, node);
    await mkdir(vars['marks']!, { recursive: true });
    const env = tooling.env(node, fail);
    const ran: string[] = [];
    for (const phase of ['drain', 'upgrade', 'verify', 'rollback']) {
      for (const execute of chefExecutes(ruby())) {
        const fill = (text: string) => fillIn(text, { ...vars, phase });
        if (execute.onlyIf !== undefined && (await sh(fill(execute.onlyIf), env)) !== 0) continue;
        if (execute.notIf !== undefined && (await sh(fill(execute.notIf), env)) === 0) continue;
        const name = fill(execute.name);
        if ((await sh(fill(execute.command), env)) !== 0) return { ran, failed: name };
        ran.push(name);
      }
    }
    return { ran };
  }

  /** chef-client on every node, round after round, until the run ends; a round that changes nothing waits for the run to move. */
  async function convergeUntilOver(run: string, release: string, fail: string[] = []) {
    const failures: string[] = [];
    for (let round = 0; round < 20; round += 1) {
      const { revision } = await getRun(server.url, run);
      const reports = await Promise.all(NODES.map((node) => converge(run, release, node, fail)));
      reports.forEach((report, index) => report.failed && failures.push(`${NODES[index]}: ${report.failed}`));
      const snapshot = await getRun(server.url, run);
      if (snapshot.status === 'done') return { snapshot, failures };
      if (snapshot.revision === revision) await waitForRun(server.url, run, (s) => s.revision > revision);
    }
    throw new Error(`run ${run} did not end within 20 converges`);
  }

  it('guards: only_if passes only for the open phase, not_if stops a second run of the work, check-ins repeat harmlessly', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    await waitForState(server.url, run, 'drain');
    const [work, checkInResource] = chefExecutes(ruby());
    const env = tooling.env('web1');
    const guard = (text: string, phase: string) => sh(fillIn(text, { ...variables(run, release, 'web1'), phase }), env);
    expect(await guard(work!.onlyIf!, 'drain')).toBe(0);
    expect(await guard(work!.notIf!, 'drain')).not.toBe(0);
    for (const phase of ['upgrade', 'verify', 'rollback']) expect(await guard(work!.onlyIf!, phase), phase).not.toBe(0);
    expect(await guard(checkInResource!.onlyIf!, 'drain')).not.toBe(0);

    expect(await converge(run, release, 'web1')).toEqual({ ran: ['rolling-upgrade drain', 'rolling-upgrade drain check-in'] });
    expect(await guard(work!.notIf!, 'drain')).toBe(0);
    expect(await converge(run, release, 'web1')).toEqual({ ran: ['rolling-upgrade drain check-in'] });
    const snapshot = await getRun(server.url, run);
    expect({ state: snapshot.state, counter: snapshot.counter, callers: snapshot.callers }).toEqual({ state: 'drain', counter: 1, callers: ['web1'] });
    expect(await callsFor(release)).toEqual(['web1 drain']);
  });

  it('converges three nodes through every phase to done', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    const { snapshot, failures } = await convergeUntilOver(run, release);
    expect(failures).toEqual([]);
    expect(snapshot.state).toBe('done');
    expect(await callsFor(release)).toEqual(everyPhase(['drain', 'upgrade', 'verify']));
  });

  it('rolls every node back when one node fails its upgrade', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    const { snapshot, failures } = await convergeUntilOver(run, release, ['web2:upgrade']);
    expect(failures).toEqual(['web2: rolling-upgrade upgrade']);
    expect(snapshot.state).toBe('rolled_back');
    expect(moves(snapshot)).toContain('upgrade>rollback event:failed web2');
    expect((await callsFor(release)).filter((call) => call.endsWith(' rollback'))).toEqual(['web1 rollback', 'web2 rollback', 'web3 rollback']);
  });
});

interface ChefExecute {
  readonly name: string;
  readonly command: string;
  readonly onlyIf?: string;
  readonly notIf?: string;
}

/** The recipe's execute resources as written: name, command, only_if and not_if, still holding their #{…}. */
function chefExecutes(ruby: string): ChefExecute[] {
  return [...ruby.matchAll(/^\s*execute "([^"]+)" do\n([\s\S]*?)\n\s*end$/gm)].map(([, name, body]) => {
    const property = (key: string) => new RegExp(`^\\s*${key} "(.*)"$`, 'm').exec(body!)?.[1];
    const command = property('command');
    if (command === undefined) throw new Error(`execute "${name}" has no command string`);
    const [onlyIf, notIf] = [property('only_if'), property('not_if')];
    return { name: name!, command, ...(onlyIf !== undefined ? { onlyIf } : {}), ...(notIf !== undefined ? { notIf } : {}) };
  });
}

/** Ruby's #{name} interpolation of plain variables, which is all the recipe's strings use. */
function fillIn(text: string, values: Record<string, string>): string {
  return text.replace(/#\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`the recipe's string uses #{${name}}, which this test does not fill in`);
    return value;
  });
}

/** What Chef's execute and string guards do with a command: /bin/sh -c, exit status back. */
async function sh(command: string, env: NodeJS.ProcessEnv): Promise<number | null> {
  return (await runScript(command, env, 'sh').done).code;
}

interface StreamEvent {
  readonly id: number;
  readonly data: { revision: number; from: string | null; to: string; cause: string; caller?: string };
}

function parseEvents(text: string): StreamEvent[] {
  return text.split('\n\n').filter((block) => /^event: transition$/m.test(block)).map((block) => ({
    id: Number(/^id: (\d+)$/m.exec(block)![1]),
    data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as StreamEvent['data'],
  }));
}
