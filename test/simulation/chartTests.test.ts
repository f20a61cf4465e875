// `chartd test` from the built CLI: the bundled charts' tests pass, failing scenarios fail at their own lines, the exit code counts them.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartLoadOptions, handlerRegistry } from '../../src/main.js';
import { runScenario } from '../../src/simulation/runScenario.js';
import { loadScenarioFile } from '../../src/simulation/scenario.js';
import { CLI } from '../support/child.js';

const FIXTURES = 'test/fixtures/scenarios';

function chartd(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

/** The line of the fixture that holds `text` (unique in it), so an assertion names the very line a failure must point at. */
async function lineOf(file: string, text: string): Promise<number> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  const matches = lines.flatMap((line, index) => (line.includes(text) ? [index + 1] : []));
  expect(matches, `${text} in ${file}`).toHaveLength(1);
  return matches[0]!;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chartd-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('chartd test', () => {
  it('passes every scenario of every bundled chart, and every bundled chart has tests', async () => {
    const { code, stdout } = await chartd('test');
    expect(stdout).not.toContain('FAIL');
    expect(stdout).not.toContain('no tests:');
    for (const chart of ['backup-and-encrypt', 'backup-request', 'rolling-upgrade', 'traffic-light']) expect(stdout).toContain(`charts/${chart}.test.yaml (chart ${chart})`);
    expect(stdout).toMatch(/^26 scenarios: 26 passed, 0 failed \(\d+ ms\)$/m);
    expect(code).toBe(0);
  });

  it('tests backup-and-encrypt\'s unhappy path from every step that can fail', async () => {
    const file = 'charts/backup-and-encrypt.test.yaml';
    const tests = await loadScenarioFile(file, chartLoadOptions());
    const failed = tests.scenarios.flatMap((scenario) => scenario.steps.flatMap((step) => (step.action?.kind === 'fail' ? [step.action.step] : [])));
    // Seed 000's eight happy-path nodes, each failed by a scenario, and the cleanup chain going on past a failure.
    const happy = ['create_intermediate_directory', 'create_pg_dump_directory', 'backup_schema', 'backup_data', 'compress', 'encrypt', 'create_storage_directory', 'move_backup'];
    for (const step of happy) expect(failed, step).toContain(step);
    expect(failed).toEqual(expect.arrayContaining(['remove_tarball', 'remove_data_file', 'remove_intermediate_directory']));
  });

  it('fails a scenario at the line of the expectation that did not hold, with expected and got, and counts failures in its exit code', async () => {
    const file = join(FIXTURES, 'deploy.test.yaml');
    const { code, stdout } = await chartd('test', file);
    const wrongState = await lineOf(file, 'state: work                 # wrong on purpose');
    expect(stdout).toContain(`  FAIL  expects the gate to open on one approval\n        ${file}:${wrongState - 4}: step 2 (put: approve (by alice))\n        ${file}:${wrongState}: expect state\n          expected: work\n          got:      approve\n        path: wait -> approve\n`);
    const refused = await lineOf(file, 'put: approve                  # refused on purpose');
    expect(stdout).toContain(`${file}:${refused}: step 2 (put: approve (by alice)): put: approve (by alice) was refused (406): approve is not the current state; if the scenario means to show that, add expect: { answer: 406 }`);
    expect(stdout).toContain('  ok    two approvals start the work, which succeeds');
    expect(stdout).toContain('  ok    an approval that never comes cancels after an hour');
    expect(stdout).toMatch(/^4 scenarios: 2 passed, 2 failed \(\d+ ms\)$/m);
    expect(code).toBe(2);
  });

  it('reports every mistake of a test file with its line, before running anything', async () => {
    const file = join(FIXTURES, 'broken.test.yaml');
    const { code, stdout } = await chartd('test', file);
    const at = async (text: string, path: string, message: string): Promise<string> => `${file}:${await lineOf(file, text)}: ${path}: ${message}`;
    expect(stdout.split('\n').filter((line) => line.startsWith(file))).toEqual([
      await at('context: { release: 1 }', 'scenarios[0].context', 'context.release must be string'),
      await at('advance: 1 minute', 'scenarios[0].steps[0].advance', "'1 minute' is not a duration: write a whole number and a unit (ms, s, m, h, d), e.g. 500ms, 10s, 5m, 1h30m, 2d"),
      await at('put: aprove', 'scenarios[0].steps[1].put', "chart deploy has no state 'aprove' (did you mean 'approve'?) (its states: wait, approve, work, done, cancelled)"),
      await at('- put: approve', 'scenarios[0].steps[2]', 'a step does one thing, and this one has put and event: split it into 2 steps'),
      await at('- by: bob', 'scenarios[0].steps[3].by', 'by: goes with put or event:, which this step does not have'),
      await at('event: cancle', 'scenarios[0].steps[4].event', "no state of chart deploy takes event 'cancle' (did you mean 'cancel'?) (its events: cancel)"),
      await at('succeed: approve', 'scenarios[0].steps[5].succeed', "'approve' is not a step (run:) of chart deploy; its steps: work"),
      await at('final: true', 'scenarios[0].steps[6].final', 'final: fails the step at once, whatever attempts: says; give one of them'),
      await at('expect: { answer: 200 }', 'scenarios[0].steps[7].expect.answer', 'answer: is the status of a put or an event, which this step does not send'),
      await at('expect: { sate: done }', 'scenarios[0].steps[8].expect.sate', "unknown key 'sate' (did you mean 'state'?)"),
      await at('- name: no steps', 'scenarios[1]', "context must have required property 'release'"),
      await at('steps: []', 'scenarios[1].steps', 'a scenario needs at least one step'),
    ]);
    expect(stdout).toMatch(/^0 scenarios: 0 passed, 0 failed, 1 test file\(s\) with problems/m);
    expect(code).toBe(1);
  });

  it('runs the tests of a chart named directly, and says when a chart has none', async () => {
    await copyFile(join(FIXTURES, 'deploy.yaml'), join(dir, 'deploy.yaml'));
    await writeFile(join(dir, 'deploy.test.yml'), 'scenarios:\n  - name: waits\n    context: { release: "2" }\n    steps: [{ advance: 1m, expect: { state: approve } }]\n');
    await writeFile(join(dir, 'other.yaml'), 'chart: other\ninitial: done\nstates: { done: { final: true } }\n');
    const named = await chartd('test', join(dir, 'deploy.yaml'));
    expect(named.stdout).toContain('  ok    waits');
    expect(named.code).toBe(0);
    const all = await chartd('test', dir);
    expect(all.stdout).toContain(`no tests: ${join(dir, 'other.yaml')}`);
    expect(all.code).toBe(0);
    const untested = await chartd('test', join(dir, 'other.yaml'));
    expect(untested.stdout).toContain(`${join(dir, 'other.yaml')}: no test file beside this chart: write ${join(dir, 'other')}.test.yaml`);
    expect(untested.code).toBe(1);
  });

  it('prints its own help', async () => {
    expect(await chartd('test', '--help')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: chartd test \[FILE\|DIR\]\.\.\. \[--json\]\n/) });
  });

  it('gives CI one JSON document', async () => {
    const { code, stdout } = await chartd('test', '--json', join(FIXTURES, 'deploy.test.yaml'));
    const report = JSON.parse(stdout) as { passed: number; failed: number; scenarios: { name: string; passed: boolean; failure?: { line: number; mismatches: { key: string; line: number; expected: unknown; got: unknown }[] } }[] };
    expect(report).toMatchObject({ passed: 2, failed: 2, problems: [], untested: [] });
    const failing = report.scenarios.find((scenario) => scenario.name === 'expects the gate to open on one approval')!;
    expect(failing.failure?.mismatches).toEqual([{ key: 'state', line: await lineOf(join(FIXTURES, 'deploy.test.yaml'), 'wrong on purpose'), expected: 'work', got: 'approve' }]);
    expect(code).toBe(2);
  });

  // How fast: bench/chart-tests.mjs (a speed target is a benchmark's to measure, not a unit test's).
  it('runs hundreds of scenarios on the pure engine, each the same every time', async () => {
    const handlers = handlerRegistry();
    const tests = await loadScenarioFile('charts/backup-and-encrypt.test.yaml', chartLoadOptions(handlers));
    let passed = 0;
    for (let round = 0; round < 30; round++) {
      for (const scenario of tests.scenarios) passed += runScenario(tests, scenario, handlers).passed ? 1 : 0;
    }
    expect(passed).toBe(30 * tests.scenarios.length);
    expect(passed).toBeGreaterThan(300);
  });
});
