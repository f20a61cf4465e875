// The playbook in docs/recipes.md, run by the real ansible-playbook on three hosts (a local connection each)
// against chartd serve as a child process: the happy path, a failing host, a re-run, and chartd killed mid-play.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { runPlaybook, type HostOutcome, type PlaybookResult } from '../support/ansible.js';
import { spawnServer, type ChildServer } from '../support/child.js';
import {
  client, createRun, fakeTooling, getRun, NODES, readRecipes, recipe, rollingUpgradeChart, waitForRun, type FakeTooling, type Snapshot,
} from '../support/recipes.js';
import { removeDir, tempDir } from '../support/server.js';
import { until } from '../support/wait.js';

let dir: string;
let server: ChildServer;
let serverArgs: string[];
let tooling: FakeTooling;
let playbook: string;
let plays = 0;
let runs = 0;
const operatorToken = newToken();
const fleetToken = newToken();

beforeAll(async () => {
  dir = await tempDir('chartd-ansible-');
  const chartDir = join(dir, 'charts');
  await mkdir(chartDir);
  await writeFile(join(chartDir, 'rolling-upgrade.yaml'), await rollingUpgradeChart({ window: '300ms' }));
  await writeFile(join(dir, 'auth.yaml'), `reads: token
tokens:
  operator: { hash: '${hashOf(operatorToken)}', scopes: [read, { write: [rolling-upgrade] }] }
  web-fleet: { hash: '${hashOf(fleetToken)}', scopes: [read, { write: [rolling-upgrade] }], callers: ['web*'] }
`);
  client.headers = { authorization: `Bearer ${operatorToken}` };
  serverArgs = ['--chart', chartDir, '--data', join(dir, 'data'), '--auth', join(dir, 'auth.yaml')];
  server = await spawnServer(serverArgs);
  tooling = await fakeTooling(dir);
  playbook = recipe(await readRecipes(), 'ansible', 'yaml').code;
});

afterAll(async () => {
  await server?.kill();
  await tooling?.release();
  if (dir) await removeDir(dir);
});

interface Play {
  readonly fail?: string[];
  readonly hold?: string[];
  /** Overrides of the play's waits, on top of the short ones every test here uses. */
  readonly vars?: Record<string, unknown>;
}

/** Starts the playbook for one run; the waits are short (the documented defaults are for real fleets). */
function play(run: string, release: string, { fail = [], hold = [], vars = {} }: Play = {}) {
  plays += 1;
  const { WEBAPP_NODE: _node, ...env } = tooling.env('', fail, hold);
  return runPlaybook({
    playbook, hosts: NODES, group: 'web', dir: join(dir, `play-${plays}`), env, hostEnv: (host) => ({ WEBAPP_NODE: host }),
    extraVars: {
      chartd: server.url, chartd_token: fleetToken, run, release,
      first_poll_every: 1, first_polls: 30, long_poll: 20, long_polls: 30, retry_every: 1, ...vars,
    },
  });
}

function newRun(): { run: string; release: string } {
  runs += 1;
  return { run: `ansible-${runs}`, release: `2026.11.22-a${runs}` };
}

async function callsFor(release: string): Promise<string[]> {
  return (await tooling.calls()).filter((line) => line.endsWith(` ${release}`)).map((line) => line.replace(` ${release}`, '')).sort();
}

const everyPhase = (phases: string[]) => NODES.flatMap((node) => phases.map((phase) => `${node} ${phase}`)).sort();

const statuses = (outcome: HostOutcome, part: string) => outcome.runs.filter((task) => task.name.includes(part)).map((task) => task.result['status']);

/** Each move of the run, in order: "from>to cause". */
const moves = (snapshot: Snapshot) => snapshot.history.map((entry) => `${entry.from ?? '-'}>${entry.to} ${entry.cause}`);

async function waiters(): Promise<number> {
  return ((await (await fetch(`${server.url}/healthz`)).json()) as { waiters: number }).waiters;
}

function expectAllOk(result: PlaybookResult): void {
  expect(result.code, result.stderr).toBe(0);
  expect([...result.hosts.keys()].sort()).toEqual([...NODES]);
  for (const [host, outcome] of result.hosts) expect(outcome.failed, host).toBeUndefined();
}

// ansible-playbook starts slowly and the machine may be busy: a play gets two minutes. These two runs share only
// the server, so they go side by side.
describe('the Ansible playbook under ansible-playbook', { timeout: 120_000 }, () => {
  it.concurrent('takes three hosts through every phase to done, polling then long-polling', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    const result = await (await play(run, release)).done;
    expectAllOk(result);
    expect((await getRun(server.url, run)).state).toBe('done');
    expect(await callsFor(release)).toEqual(everyPhase(['drain', 'upgrade', 'verify']));
    for (const outcome of result.hosts.values()) {
      expect(statuses(outcome, 'Check in for')).toEqual([200, 200, 200]);
      expect(statuses(outcome, '(polling')).toEqual([200]);
      expect(statuses(outcome, '(long-poll)')).toEqual([200, 200, 200]);
    }
  });

  it.concurrent('rolls every host back when one fails its upgrade, and the play fails on all three', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    // A 1 s long-poll: the hosts parked on verify notice the rollback within a second.
    const result = await (await play(run, release, { fail: ['web2:upgrade'], vars: { long_poll: 1 } })).done;
    expect(result.code).toBe(2);
    for (const [host, outcome] of result.hosts) {
      expect(outcome.failed?.task, host).toBe('Stop here; the release did not go out');
      expect(outcome.failed?.message).toContain(`run ${run} rolled back`);
    }
    const snapshot = await waitForRun(server.url, run, (s) => s.status === 'done');
    expect(snapshot.state).toBe('rolled_back');
    expect(moves(snapshot)).toContain('upgrade>rollback event:failed');
    const sentFailed = [...result.hosts.values()].flatMap((outcome) => statuses(outcome, 'Send the run down'));
    expect(sentFailed.sort()).toEqual([200, 406, 406]);
    expect((await callsFor(release)).filter((call) => call.endsWith(' rollback'))).toEqual(['web1 rollback', 'web2 rollback', 'web3 rollback']);
  });
});

// These hold webapp-ctl on one host (one switch for all) and count the server's parked long-polls: one at a time.
describe.sequential('the Ansible playbook when a play or chartd is cut off', { timeout: 120_000 }, () => {
  it('re-run after the first play was killed midway: check-ins repeat, but each host counts once', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    // web1 and web2 check in to drain; web3 is still at its drain work when the operator's machine goes away.
    const first = await play(run, release, { hold: ['web3:drain'] });
    await waitForRun(server.url, run, (s) => s.state === 'drain' && s.callers.length === 2, 60_000);
    await until(async () => (await callsFor(release)).includes('web3 drain'), 'web3 to start its drain', 30_000, 100);
    const killed = await first.kill();
    expect(killed.signal).toBe('SIGKILL');

    const again = await play(run, release, { hold: ['web3:drain'] });
    // The re-run's web1 and web2 redo their drain and check in again, then park on the upgrade long-poll.
    await until(async () => (await callsFor(release)).filter((call) => call.endsWith(' drain')).length === 6, 'the re-run to drain every host', 60_000, 100);
    await until(async () => (await waiters()) === 2, 'web1 and web2 to wait for upgrade', 60_000, 100);
    const held = await getRun(server.url, run);
    expect({ state: held.state, counter: held.counter, callers: [...held.callers].sort() }).toEqual({ state: 'drain', counter: 2, callers: ['web1', 'web2'] });
    await tooling.release();
    const result = await again.done;
    await tooling.holdAgain();
    expectAllOk(result);
    const snapshot = await getRun(server.url, run);
    expect(moves(snapshot).slice(1)).toEqual(['window>drain timer', 'drain>upgrade put', 'upgrade>verify put', 'verify>done put']);
    expect([...(snapshot.history.find((entry) => entry.from === 'drain')?.callers ?? [])].sort()).toEqual([...NODES]);
    for (const outcome of result.hosts.values()) expect(statuses(outcome, 'Check in for')).toEqual([200, 200, 200]);
    expect(await callsFor(release)).toEqual([...everyPhase(['drain', 'upgrade', 'verify']), ...NODES.map((node) => `${node} drain`)].sort());
  });

  it('carries the play through chartd killed -9 during a long-poll, by until/retries', async () => {
    const { run, release } = newRun();
    await createRun(server.url, run, { release });
    const running = await play(run, release, { hold: ['web3:upgrade'] });
    // web1 and web2 check in to upgrade and park on the verify long-poll; web3 is held inside its upgrade.
    await waitForRun(server.url, run, (s) => s.state === 'upgrade' && s.callers.length === 2, 60_000);
    await until(async () => (await waiters()) === 2, 'web1 and web2 to wait for verify', 60_000, 100);
    const before = await getRun(server.url, run);
    const port = new URL(server.url).port;
    await server.kill('SIGKILL');
    server = await spawnServer([...serverArgs, '--port', port]);
    const after = await getRun(server.url, run);
    expect({ state: after.state, callers: [...after.callers].sort(), revision: after.revision }).toEqual({ state: 'upgrade', callers: ['web1', 'web2'], revision: before.revision });
    await tooling.release();
    const result = await running.done;
    await tooling.holdAgain();
    expectAllOk(result);
    expect((await getRun(server.url, run)).state).toBe('done');
    expect(await callsFor(release)).toEqual(everyPhase(['drain', 'upgrade', 'verify']));
    // The long-polls chartd's death cut off were asked again until it was back.
    for (const host of ['web1', 'web2']) {
      const verify = result.hosts.get(host)!.runs.find((task) => task.name.startsWith('Wait for the verify phase'))!;
      expect(verify.result['attempts'], host).toBeGreaterThan(1);
    }
  });
});
