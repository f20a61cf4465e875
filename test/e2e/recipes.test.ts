// Every runnable recipe in docs/recipes.md, executed against a real server: bash for shell, a Chef converge for
// the Ruby recipe, an Ansible run for the playbook. If the docs and chartd disagree, this fails.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { runPlaybook } from '../support/ansible.js';
import { compileChefRecipe, converge, sh, type ChefResource } from '../support/chef.js';
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
  it('marks exactly the recipes this file runs, so a new one cannot go untested', () => {
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
  const compile = (run: string, release: string, node: string): ChefResource[] =>
    compileChefRecipe(recipe(recipes, 'chef', 'ruby').code, {
      "node['chartd']['url']": server.url, "node['chartd']['curl_config']": fleetCurl, "node['chartd']['run']": run, "node['chartd']['release']": release,
      "node['hostname']": node, 'Chef::Config[:file_cache_path]': `${workDir}/chef-${node}`,
    });

  /** chef-client on every node, round after round, until the run ends; a round that changes nothing waits for the run to move. */
  async function convergeUntilOver(run: string, release: string, fail: string[] = []) {
    const failures: string[] = [];
    for (let round = 0; round < 20; round += 1) {
      const { revision } = await getRun(server.url, run);
      const reports = await Promise.all(NODES.map((node) => converge(compile(run, release, node), tooling.env(node, fail))));
      reports.forEach((report, index) => report.failed && failures.push(`${NODES[index]}: ${report.failed.name}`));
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
    const resources = compile(run, release, 'web1');
    const executes = resources.filter((resource) => resource.type === 'execute');
    expect(executes.map((resource) => resource.name)).toEqual(
      ['drain', 'upgrade', 'verify', 'rollback'].flatMap((phase) => [`rolling-upgrade ${phase}`, `rolling-upgrade ${phase} check-in`]));
    const env = tooling.env('web1');
    const guard = async (name: string, which: 'onlyIf' | 'notIf') => {
      const resource = executes.find((candidate) => candidate.name === name)!;
      return (await sh(resource[which]!, env)).code;
    };
    expect(await guard('rolling-upgrade drain', 'onlyIf')).toBe(0);
    expect(await guard('rolling-upgrade drain', 'notIf')).not.toBe(0);
    for (const phase of ['upgrade', 'verify', 'rollback']) expect(await guard(`rolling-upgrade ${phase}`, 'onlyIf'), phase).not.toBe(0);
    expect(await guard('rolling-upgrade drain check-in', 'onlyIf')).not.toBe(0);

    const first = await converge(resources, env);
    expect(first).toEqual({ ran: ['rolling-upgrade drain', 'rolling-upgrade drain check-in'] });
    expect(await guard('rolling-upgrade drain', 'notIf')).toBe(0);
    const second = await converge(resources, env);
    expect(second).toEqual({ ran: ['rolling-upgrade drain check-in'] });
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

describe('Ansible', () => {
  const play = (run: string, release: string, fail: string[] = []) =>
    runPlaybook(recipe(recipes, 'ansible', 'yaml').code, {
      hosts: NODES, extraVars: { chartd: server.url, chartd_token: fleetToken, run, release }, env: (host) => tooling.env(host, fail), timeScale: 1 / 50,
    });

  it('runs the playbook on three hosts, polling then long-polling, to done', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    const outcomes = await play(run, release);
    for (const [host, outcome] of outcomes) expect(outcome.failed, host).toBeUndefined();
    expect((await getRun(server.url, run)).state).toBe('done');
    expect(await callsFor(release)).toEqual(everyPhase(['drain', 'upgrade', 'verify']));
    for (const outcome of outcomes.values()) {
      const checkIns = outcome.runs.filter((task) => task.name.startsWith('Check in for'));
      expect(checkIns.map((task) => task.result['status'])).toEqual([200, 200, 200]);
      const longPolls = outcome.runs.filter((task) => /long-poll/.test(task.name));
      expect(longPolls.map((task) => task.result['status'])).toEqual([200, 200, 200]);
    }
  });

  it('rescues: when one host fails its upgrade, every host rolls back and the play fails', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    const outcomes = await play(run, release, ['web2:upgrade']);
    for (const [host, outcome] of outcomes) {
      expect(outcome.failed?.task, host).toBe('Stop here; the release did not go out');
      expect(outcome.failed?.message).toContain(`run ${run} rolled back`);
    }
    const snapshot = await waitForRun(server.url, run, (s) => s.status === 'done');
    expect(snapshot.state).toBe('rolled_back');
    expect(moves(snapshot)).toContain('upgrade>rollback event:failed web2');
    const sentFailed = [...outcomes.values()].flatMap((outcome) => outcome.runs.filter((task) => task.name.startsWith('Send the run down')));
    expect(sentFailed.map((task) => task.result['status']).sort()).toEqual([200, 406, 406]);
    expect((await callsFor(release)).filter((call) => call.endsWith(' rollback'))).toEqual(['web1 rollback', 'web2 rollback', 'web3 rollback']);
  });
});

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
