// Operator-owned arguments at load time: what a chart may fill from a client's context, and what it may not.
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { parseChart } from '../../src/chart/load.js';
import { ChartInvalid } from '../../src/chart/problem.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import { createRegistry } from '../../src/handlers/registry.js';

const handlers = createRegistry(builtinHandlers());

/** A one-step chart running `run` with `args`, its context and settings as given, every property required (templates need that). */
function chart(run: string, args: string, context = '{}', settings = '{}'): string {
  const required = (properties: string): string => JSON.stringify(Object.keys((yaml.load(properties) ?? {}) as object));
  return `chart: one-step
initial: work
context: { properties: ${context}, required: ${required(context)} }
settings: { properties: ${settings}, required: ${required(settings)} }
states:
  work:
    run: ${run}
    with: ${args}
    on_success: done
    on_failure: done
  done: { final: true }
`;
}

function problemsOf(source: string): string[] {
  try {
    parseChart(source, 'one-step.yaml', { handlers });
    return [];
  } catch (error) {
    if (error instanceof ChartInvalid) return error.problems.map((problem) => `${problem.line}: ${problem.path}: ${problem.message}`);
    throw error;
  }
}

describe('operator-owned arguments', () => {
  it('take settings, the instance id and filtered values, and a client value whose property has a pattern', () => {
    const context = '{ client: { type: string, pattern: "^[a-z]+$" }, fy_end: { type: integer }, at: { type: string } }';
    const settings = '{ root: { type: string }, host: { type: string }, port: { type: integer }, pw: { type: string } }';
    expect(problemsOf(chart('fs.makeDir', '{ path: "{{settings.root}}/{{client}}/{{instance.id}}/FY{{instance.created | fiscal_year:fy_end}}-{{at | date}}" }', context, settings))).toEqual([]);
    expect(problemsOf(chart('fs.move', '{ from: "/srv/in/{{client}}", to: "/srv/out/" }', context, settings))).toEqual([]);
    expect(problemsOf(chart('pg.dumpSchema', '{ host: "{{settings.host}}", port: "{{settings.port}}", user: "{{client}}", password_env: "{{settings.pw}}", database: "{{at}}", file: "{{settings.root}}/x.sql" }', context, settings))).toEqual([]);
  });

  it('may be anything the chart author wrote when no client value is in them', () => {
    expect(problemsOf(chart('fs.makeDir', '{ path: "relative/work/{{instance.created | stamp}}" }'))).toEqual([]);
  });

  it('refuse a client value without a pattern, at the argument\'s line, naming its kind and both fixes', () => {
    const problems = problemsOf(chart('gpg.encrypt', '{ file: /srv/x, output: /srv/x.gpg, recipient: "{{key}}", homedir: "{{home}}" }',
      '{ key: { type: string }, home: { type: string } }'));
    // recipient is the client's to choose; homedir is not.
    expect(problems).toEqual([
      "8: states.work.with.homedir: homedir is operator-owned (path: a file or directory chartd reads or writes), but {{home}} is a client's context value without a pattern; " +
        "bind it from the operator's settings ({{settings.home}}), or give context property 'home' type: string and a pattern: that allows only safe values",
      '8: states.work.with.homedir: homedir holds the client-supplied {{home}}, so it must start at a root the operator fixes: an absolute literal such as /srv/backups/ or a {{settings.KEY}} placeholder',
    ]);
  });

  it('count a pattern only on a string: without type: string a client could send a number, which a pattern does not check', () => {
    // pg_dump reads host=2130706433 as 127.0.0.1.
    expect(problemsOf(chart('pg.dumpSchema', '{ host: "{{host}}", database: x, file: /srv/x.sql }', '{ host: { pattern: "^db[0-9]+$" } }'))).toEqual([
      expect.stringContaining("give context property 'host' type: string and a pattern:"),
    ]);
  });

  it('judge a nested context value by its own property', () => {
    const context = '{ db: { type: object, properties: { host: { type: string }, name: { type: string, pattern: "^[a-z]+$" } }, required: [host, name] } }';
    expect(problemsOf(chart('pg.dumpData', '{ host: "{{db.host}}", database: x, file: "/srv/{{db.name}}.sql" }', context))).toEqual([
      expect.stringContaining("8: states.work.with.host: host is operator-owned (target: where chartd connects), but {{db.host}}"),
    ]);
  });

  it('need a root the operator fixes before a client value in a path, even a patterned one', () => {
    const context = '{ client: { type: string, pattern: "^[a-z]+$" } }';
    for (const path of ['"{{client}}/x"', '"srv/{{client}}"', '"{{instance.created | stamp}}/{{client}}"', '"{{instance.id}}"']) {
      expect(problemsOf(chart('fs.removeDir', `{ path: ${path} }`, context)), path).toEqual([expect.stringContaining('so it must start at a root the operator fixes')]);
    }
  });
});
