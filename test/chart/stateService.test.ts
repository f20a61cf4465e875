// StateService chart files as StateService runs them: saved progress, keys it ignores, names of any text.
import { describe, expect, it } from 'vitest';
import { compileChart, loadChartFile, parseChart } from '../../src/chart/load.js';
import { ChartInvalid, formatProblem, type Notice, type Problem } from '../../src/chart/problem.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import { createRegistry } from '../../src/handlers/registry.js';

const options = { handlers: createRegistry(builtinHandlers()) };

function problemsOf(source: string, file = 'states.yaml'): Problem[] {
  try {
    parseChart(source, file, options);
  } catch (error) {
    if (error instanceof ChartInvalid) return error.problems;
    throw error;
  }
  throw new Error('the chart loaded, but it should have been refused');
}

const noticesOf = (source: string, file = 'states.yaml'): string[] => compileChart(source, file, options).notices.map(formatProblem);

/** A line chart green -> red -> blue with the given current state and counts. */
const line = (current: string, green: number, red: number) => `current_state: ${current}
states:
  - { name: green_state, func: increment, current: { key: count, value: ${green} }, target: { name: red_state, when: { key: count, value: 1 } } }
  - { name: red_state, func: increment, current: { key: count, value: ${red} }, target: { name: blue_state, when: { key: count, value: 2 } } }
  - { name: blue_state }
`;

describe('a file StateService has saved progress into', () => {
  it('loads as written, starting where it stopped: current_state, and the count of the current state', async () => {
    // As StateService's save() writes it (PyYAML, keys sorted): green_state passed, red_state counted once of twice.
    const file = 'test/fixtures/stateservice/saved-progress.yaml';
    const chart = await loadChartFile(file, options);
    expect(chart.initial).toBe('red_state');
    expect(chart.states['red_state']).toMatchObject({ kind: 'gate', start: 1, count: 2 });
    expect(chart.states['green_state']).toMatchObject({ kind: 'gate', start: 1, count: 1 });
  });

  it('notes the states the machine has passed instead of refusing them as unreachable', () => {
    expect(noticesOf(line('red_state', 1, 1))).toEqual([
      "states.yaml:3: states[0]: note: state 'green_state' cannot be reached from the current state 'red_state', so nothing moves into it (a file StateService has saved progress into lists the states its machine has passed); it is kept as it is",
    ]);
    // After the counts were set back by hand: still only a note.
    expect(noticesOf(line('blue_state', 0, 0))).toHaveLength(2);
  });

  it('still refuses a spent count where the machine can go: it would never move again', () => {
    expect(problemsOf(line('green_state', 1, 0)).map(formatProblem)).toEqual([
      "states.yaml:3: states[0].current.value: increment starts at 1 but moves on only when the count equals 1, and 'green_state' is the current state; counting up from there never gets it, so make current.value smaller than target.when.value",
    ]);
    expect(problemsOf(line('green_state', 0, 2)).map((problem) => problem.message)).toEqual([
      expect.stringContaining("increment starts at 2 but moves on only when the count equals 2, and 'red_state' can still be reached from the current state 'green_state'"),
    ]);
  });

  it('keeps the chartd dialect strict: an unreachable state is a problem there', () => {
    const problems = problemsOf('chart: strict\ninitial: a\nstates:\n  a: { final: true }\n  b: { final: true }\n');
    expect(problems.map((problem) => problem.message)).toEqual(["state 'b' is unreachable from the initial state 'a'"]);
  });
});

describe('keys StateService ignores', () => {
  const source = `current_state: green_state
owner: backup-controller
states:
  - name: green_state
    description: Each node checks in once.
    func: increment
    current: { key: count, value: 0, unit: nodes }
    target:
      name: blue_state
      when: { key: count, value: 1 }
      note: then blue
  - name: blue_state
    descripton: done
`;

  it('loads the chart and warns of each, at its line; owner: is not the chartd dialect\'s ownership here', () => {
    const { chart, notices } = compileChart(source, 'ignored.yaml', options);
    expect(chart.owner).toBeUndefined();
    expect(Object.keys(chart.states)).toEqual(['green_state', 'blue_state']);
    expect(notices.map((notice: Notice) => [notice.level, notice.line, notice.path])).toEqual([
      ['warning', 2, 'owner'],
      ['warning', 5, 'states[0].description'],
      ['warning', 7, 'states[0].current.unit'],
      ['warning', 11, 'states[0].target.note'],
      ['warning', 13, 'states[1].descripton'],
    ]);
    expect(formatProblem(notices[0]!)).toBe("ignored.yaml:2: owner: warning: key 'owner' is ignored: StateService does not read it, and neither does chartd (chartd reads current_state, models, states here)");
    expect(notices[4]!.message).toBe("key 'descripton' is ignored: StateService does not read it, and neither does chartd (chartd reads name, func, current, target here)");
  });

  it('carries the warnings of a file that also has problems, so one pass shows both', () => {
    try {
      parseChart(source.replace('value: 1 }', 'value: 0 }'), 'ignored.yaml', options);
      throw new Error('expected ChartInvalid');
    } catch (error) {
      expect((error as ChartInvalid).problems).toHaveLength(1);
      expect((error as ChartInvalid).notices).toHaveLength(5);
    }
  });

  it('are unknown keys, and refused, in the chartd dialect', () => {
    const problems = problemsOf('chart: strict\ninitial: a\nnotes: hi\nstates:\n  a: { final: true }\n');
    expect(problems.map(formatProblem)).toEqual([expect.stringContaining("states.yaml:3: notes: unknown key 'notes'")]);
  });
});

describe('state names', () => {
  const named = (first: string) => `current_state: ${JSON.stringify(first)}
states:
  - name: ${JSON.stringify(first)}
    func: increment
    current: { key: count, value: 0 }
    target: { name: done, when: { key: count, value: 1 } }
  - name: done
`;

  it('take any printable text in the StateService dialect, as StateService did', () => {
    for (const name of ['Grün Phase', 'phase 2/3', 'ステージ', 'a+b&c=d#e%f', ' padded ', '🚦']) {
      expect(Object.keys(parseChart(named(name), 'names.yaml', options).states), name).toEqual([name, 'done']);
    }
  });

  it('refuse control characters, broken Unicode and more than 255 bytes, saying why', () => {
    expect(problemsOf(named('line\nbreak')).map(formatProblem)).toContain(
      'states.yaml:3: states[0].name: state name "line\\nbreak" holds a control character (a tab, a line break, …); state names are printable text');
    expect(problemsOf(named('\ud800x'))[0]!.message).toMatch(/is not valid Unicode text/);
    expect(problemsOf(named('ü'.repeat(128)))[0]!.message).toMatch(/is 256 bytes long in UTF-8; state names take at most 255$/);
    expect(() => parseChart(named('a'.repeat(255)), 'names.yaml', options)).not.toThrow();
  });

  it('stay letters, digits and . _ - in the chartd dialect', () => {
    expect(problemsOf('chart: strict\ninitial: a b\nstates:\n  a b: { final: true }\n')[0]!.message).toMatch(/'a b': state names are 1-64 letters/);
  });
});
