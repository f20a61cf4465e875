// Every broken fixture is refused with its own message at its own line; one file with many mistakes reports them all.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadChartFile } from '../../src/chart/load.js';
import { ChartInvalid, formatProblem, type Problem } from '../../src/chart/problem.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import type { Handler } from '../../src/handlers/handler.js';
import { createRegistry } from '../../src/handlers/registry.js';

const BROKEN = 'test/fixtures/charts/broken';

function handler(name: string): Handler {
  const params = { type: 'object', required: ['path'], properties: { path: { type: 'string' } }, additionalProperties: false };
  return { name, description: `test handler ${name}`, params, run: async () => {} };
}
const options = { handlers: createRegistry([handler('shell.noop'), handler('shell.run'), ...builtinHandlers()]) };

async function problemsOf(file: string): Promise<Problem[]> {
  try {
    await loadChartFile(file, options);
  } catch (error) {
    if (error instanceof ChartInvalid) return error.problems;
    throw error;
  }
  throw new Error(`${file} loaded, but it should have been refused`);
}

// [file, line, path, a piece of the message that only this mistake produces]
const cases: [string, number, string, string][] = [
  ['unknown-target.yaml', 6, 'states.drain.next', "unknown target state 'upgrad' (known: drain, upgrade, done)"],
  ['unknown-initial.yaml', 2, 'initial', "initial state 'strat' is not defined (known: start, done)"],
  ['missing-initial.yaml', 1, '', "missing required key 'initial'"],
  ['unreachable.yaml', 7, 'states.orphan', "state 'orphan' is unreachable from the initial state 'start'"],
  ['no-final.yaml', 3, 'states', 'the chart has no final state'],
  ['increment-start.yaml', 7, 'states[0].current.value', 'increment starts at 2 but moves on only when the count equals 1'],
  ['key-mismatch.yaml', 11, 'states[0].target.when.key', "target.when.key 'counter' differs from current.key 'count'"],
  ['duplicate-state.yaml', 8, 'states[2].name', "duplicate state name 'red_state' (first defined at line 7)"],
  ['duplicate-key.yaml', 8, '', "duplicated key 'start'"],
  ['gate-count-zero.yaml', 6, 'states.start.gate.count', 'gate count must be a whole number of at least 1'],
  ['bare-duration.yaml', 5, 'states.wait.after', "duration '10' has no unit: write 10s, 5m or 1h"],
  ['bad-duration.yaml', 7, 'states.wait.timeout.after', "'5 minutes' is not a duration"],
  ['bad-time.yaml', 5, 'states.window.at', "'2026-02-30T02:00:00Z' is not a valid date and time"],
  ['stateservice-bad-time.yaml', 9, 'states[0].target.when.value', "'tomorrow at noon' is not a time"],
  ['unknown-handler.yaml', 5, 'states.work.run', "unknown handler 'shell.nop' (did you mean 'shell.noop'?); known shell.* handlers: shell.noop, shell.run"],
  ['unknown-template.yaml', 10, 'states.work.with.path', "unknown template key 'relase' in {{relase}} (did you mean 'release'?)"],
  ['unknown-filter.yaml', 3, 'failure_prefix', "unknown filter 'stmp' in {{instance.created | stmp}} (did you mean 'stamp'?)"],
  ['bad-chart-name.yaml', 1, 'chart', "'-not a name': chart name must be 1-64 letters"],
  ['_stateservice-name.yaml', 0, '', "the file name gives the chart name '_stateservice-name', which is not allowed"],
  ['custom-tag.yaml', 5, '', "YAML tag '!env' is not allowed"],
  ['multi-document.yaml', 5, '', 'the file holds more than one YAML document'],
  ['two-drivers.yaml', 4, 'states.start', "state 'start' has 2 drivers, gate and run; a state has exactly one"],
  ['unknown-key.yaml', 5, 'states.start.descripton', "unknown key 'descripton' (did you mean 'description'?)"],
  ['alias-bomb.yaml', 1, '', 'expands to more than 100000 values through aliases'],
  ['too-many-aliases.yaml', 55, '', 'more than 50 aliases'],
  ['syntax-error.yaml', 5, '', 'YAML syntax: unexpected end of the stream within a flow collection'],
  ['top-level-list.yaml', 1, '', 'the top level must be a mapping (key: value lines), not a list'],
  ['missing-param.yaml', 4, 'states.work.with', "handler 'shell.noop' needs argument 'path'"],
  ['bad-context.yaml', 5, 'context.properties.release.type', "not a valid JSON Schema: 'strin' is not one of: array, boolean, integer, null, number, object, string (did you mean 'string'?)"],
  ['bad-pattern.yaml', 7, 'context.properties.release.pattern', 'not a valid JSON Schema: "^[0-9+$" is not a regular expression: /^[0-9+$/u: Unterminated character class'],
  ['no-driver.yaml', 4, 'states.start', "state 'start' has no driver"],
  ['step-missing-failure.yaml', 4, 'states.work', "missing required key 'on_failure'"],
  ['wrong-driver-key.yaml', 6, 'states.verify.next', "'next' does not apply to an event state (on:)"],
  ['stateservice-func.yaml', 4, 'states[0].func', "'decrement' is not one of: increment, time (did you mean 'increment'?)"],
  ['stateservice-target-without-func.yaml', 3, 'states[0]', "has a target but no func, which would make it final"],
  ['max-delay.yaml', 7, 'states.work.retry.max_delay', 'max_delay is shorter than delay'],
  ['unknown-dialect.yaml', 1, '', "cannot tell the chart's dialect"],
  ['client-host.yaml', 11, 'states.dump.with.host', "host is operator-owned (target: where chartd connects), but {{host}} is a client's context value without a pattern; bind it from the operator's settings ({{settings.host}}), or give context property 'host' type: string and a pattern:"],
  ['client-env.yaml', 14, 'states.dump.with.password_env', 'password_env is operator-owned (env: the name of a server environment variable chartd reads), but {{password}}'],
  ['client-path.yaml', 14, 'states.make.with.path', 'path is operator-owned (path: a file or directory chartd reads or writes), but {{client}}'],
  ['path-without-root.yaml', 10, 'states.make.with.path', 'path holds the client-supplied {{client}}, so it must start at a root the operator fixes'],
  ['settings-overlap.yaml', 8, 'settings.properties.storage_root', "'storage_root' is declared in both context and settings"],
  ['reserved-settings.yaml', 5, 'context.properties.settings', "'settings' is reserved for the operator's values"],
  ['unknown-setting.yaml', 9, 'states.make.with.path', "unknown template key 'settings.rot' in {{settings.rot}} (did you mean 'settings.root'?); declare it under the chart's settings properties"],
  ['optional-template-key.yaml', 11, 'failure_prefix', "template key 'client' in {{client}} may be missing: context property 'client' is neither required nor given a default"],
  ['bad-settings.yaml', 4, 'settings.type', "settings describes the operator's values the steps need, so its type must be object"],
];

describe('broken charts', () => {
  it('has a case for every fixture, each with a message of its own', () => {
    expect(cases.map(([file]) => file).sort()).toEqual(readdirSync(BROKEN).sort());
    expect(new Set(cases.map(([, , , message]) => message)).size).toBe(cases.length);
  });

  it.each(cases)('%s is refused at line %i', async (name, line, path, message) => {
    const file = join(BROKEN, name);
    const problems = await problemsOf(file);
    expect(problems).toHaveLength(1);
    const [problem] = problems;
    expect(problem).toMatchObject({ file, line, path });
    expect(problem?.message).toContain(message);
    expect(formatProblem(problem!)).toBe(`${file}${line > 0 ? `:${line}` : ''}: ${path ? `${path}: ` : ''}${problem?.message}`);
  });

  it('reports every problem of a file at once, in line order', async () => {
    const file = 'test/fixtures/charts/many-problems.yaml';
    let caught: unknown;
    try {
      await loadChartFile(file, options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ChartInvalid);
    const problems = (caught as ChartInvalid).problems;
    expect(problems.map(({ line, path }) => [line, path])).toEqual([
      [9, 'states.drain.gate.count'],
      [10, 'states.drain.next'],
      [11, 'states.upgrade'],
      [12, 'states.upgrade.run'],
      [13, 'states.upgrade.with.path'],
      [16, 'states.wait.after'],
    ]);
    expect(problems.map((problem) => problem.message)).toEqual([
      expect.stringContaining('gate count must be a whole number of at least 1'),
      "unknown target state 'upgrad' (known: drain, upgrade, wait, done)",
      expect.stringContaining("missing required key 'on_failure'"),
      expect.stringContaining("unknown handler 'shell.nop'"),
      expect.stringContaining("unknown template key 'relase'"),
      "duration '10' has no unit: write 10s, 5m or 1h",
    ]);
    // The error's message is the whole report, one formatted problem per line.
    expect((caught as Error).message.split('\n')).toEqual(problems.map(formatProblem));
  });

  it('reports a bad pattern in a context schema together with the schema\'s other mistakes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chartd-broken-'));
    const file = join(dir, 'two-schema-problems.yaml');
    writeFileSync(file, 'chart: two\ninitial: done\ncontext:\n  properties:\n    release:\n      type: strin\n      pattern: "v[0-9"\nstates:\n  done: { final: true }\n');
    try {
      expect((await problemsOf(file)).map(({ line, path }) => [line, path])).toEqual([
        [6, 'context.properties.release.type'],
        [7, 'context.properties.release.pattern'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
