// The editors' JSON Schema: shipped as printed, every key described, every bundled chart and fixture judged as validate judges it.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { editorSchema } from '../../src/chart/editorSchema.js';
import { isScenarioFile, parseChart } from '../../src/chart/load.js';
import { ChartInvalid } from '../../src/chart/problem.js';
import { checkShape, shapeChecker } from '../../src/chart/schema.js';
import { parseYaml } from '../../src/chart/yamlSource.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import type { Handler } from '../../src/handlers/handler.js';
import { createRegistry } from '../../src/handlers/registry.js';
import { chartLoadOptions, handlerRegistry } from '../../src/main.js';
import { SCENARIO_SHAPE, scenarioEditorSchema } from '../../src/simulation/scenarioShape.js';
import { CLI } from '../support/child.js';

const run = promisify(execFile);

// The fixtures' own handlers (as test/chart/broken.test.ts and load.test.ts register them) beside chartd's.
function handler(name: string, extra: string[] = []): Handler {
  const properties = Object.fromEntries(['path', ...extra].map((key) => [key, { type: 'string', description: `the ${key}` }]));
  return { name, description: `test handler ${name}`, params: { type: 'object', required: ['path'], properties, additionalProperties: false }, run: async () => {} };
}
const fixtureHandlers = createRegistry([handler('shell.noop', ['label', 'fiscal', 'replicas']), handler('shell.run'), ...builtinHandlers()]);

function compile(schema: object): ValidateFunction {
  return new Ajv({ strict: false, allErrors: true }).compile(schema);
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? yamlFilesUnder(path) : /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/** The chart's problems as `chartd validate` finds them with these handlers; [] when it loads. */
function validateProblems(source: string, file: string, handlers = fixtureHandlers): string[] {
  try {
    parseChart(source, file, { ...chartLoadOptions(), handlers });
    return [];
  } catch (error) {
    if (error instanceof ChartInvalid) return error.problems.map((problem) => problem.message);
    throw error;
  }
}

describe('chartd schema', () => {
  it('prints the schemas the package ships, and one dialect on request', async () => {
    const both = await run(process.execPath, [CLI, 'schema']);
    expect(both.stdout, 'schema/ is out of date: npm run schema writes it').toBe(readFileSync('schema/chart.schema.json', 'utf8'));
    expect(JSON.parse(both.stdout)).toEqual(editorSchema(handlerRegistry()));
    const tests = await run(process.execPath, [CLI, 'schema', '--tests']);
    expect(tests.stdout, 'schema/ is out of date: npm run schema writes it').toBe(readFileSync('schema/chart-test.schema.json', 'utf8'));
    const chartd = JSON.parse((await run(process.execPath, [CLI, 'schema', '--dialect', 'chartd'])).stdout) as Record<string, unknown>;
    expect(chartd).toMatchObject({ title: 'chartd chart', required: ['chart', 'initial', 'states'] });
    expect(JSON.stringify(chartd)).not.toContain('current_state');
    await expect(run(process.execPath, [CLI, 'schema', '--dialect', 'yaml'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--dialect yaml is not one of both, chartd, stateservice') });
    const help = await run(process.execPath, [CLI, 'schema', '--help']);
    expect(help.stdout).toContain('# yaml-language-server: $schema=');
  });

  it('ships in the package, and every bundled chart and chart test names it on its first line', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('schema');
    for (const name of readdirSync('charts')) {
      const schema = isScenarioFile(name) ? 'chart-test.schema.json' : 'chart.schema.json';
      expect(readFileSync(join('charts', name), 'utf8').split('\n')[0], name).toBe(`# yaml-language-server: $schema=../schema/${schema}`);
    }
  });

  it('gives every key a description and examples', () => {
    const undocumented: string[] = [];
    // Visits every sub-schema where a key can be offered; `if` only selects a branch, so its keys are never offered.
    const walk = (schema: unknown, path: string): void => {
      if (typeof schema !== 'object' || schema === null) return;
      const node = schema as Record<string, unknown>;
      for (const [key, child] of Object.entries((node['properties'] ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof child['description'] !== 'string' || !Array.isArray(child['examples']) || !child['examples'].length) undocumented.push(`${path}.properties.${key}`);
        walk(child, `${path}.properties.${key}`);
      }
      for (const key of ['additionalProperties', 'items', 'then', 'else', 'not']) walk(node[key], `${path}.${key}`);
      for (const key of ['allOf', 'anyOf', 'oneOf']) (node[key] as unknown[] | undefined)?.forEach((child, index) => walk(child, `${path}.${key}[${index}]`));
      for (const [name, child] of Object.entries((node['definitions'] ?? {}) as Record<string, unknown>)) walk(child, `${path}.definitions.${name}`);
    };
    walk(editorSchema(handlerRegistry()), '');
    walk(scenarioEditorSchema(), '(tests)');
    const registry = handlerRegistry();
    for (const name of registry.names()) {
      const params = registry.get(name)!.params as { properties: Record<string, { description?: string }> };
      for (const [key, param] of Object.entries(params.properties)) if (!param.description) undocumented.push(`${name} with.${key}`);
    }
    expect(undocumented).toEqual([]);
    expect(JSON.stringify(editorSchema(handlerRegistry()))).not.toContain('"hint"');
  });

  it('takes every bundled chart and chart test', () => {
    const charts = compile(editorSchema(handlerRegistry()));
    const tests = compile(scenarioEditorSchema());
    for (const name of readdirSync('charts')) {
      const { value } = parseYaml(readFileSync(join('charts', name), 'utf8'), name);
      const validate = isScenarioFile(name) ? tests : charts;
      expect(validate(value) ? [] : validate.errors, name).toEqual([]);
    }
  });

  it('refuses only what validate refuses, and everything the shape check refuses, over every test fixture', () => {
    const validate = compile(editorSchema(fixtureHandlers));
    const files = yamlFilesUnder('test/fixtures').filter((file) => !isScenarioFile(file));
    expect(files.length).toBeGreaterThan(40);
    let judged = 0;
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      let value: Record<string, unknown>;
      try {
        value = parseYaml(source, file).value;
      } catch {
        continue; // not YAML a schema can be applied to (syntax errors, alias bombs, custom tags)
      }
      judged += 1;
      const refused = !validate(value);
      const problems = validateProblems(source, file);
      if (refused) expect(problems, `${file}: the schema refuses what validate takes (${JSON.stringify(validate.errors)})`).not.toEqual([]);
      const dialect = 'chart' in value ? 'chartd' : 'stateservice';
      if (checkShape(dialect, value).length) expect(refused, `${file}: validate refuses its shape, the schema takes it`).toBe(true);
    }
    expect(judged).toBeGreaterThan(35);
  });

  it('judges every chart test fixture as chartd test judges its shape', () => {
    const validate = compile(scenarioEditorSchema());
    const files = yamlFilesUnder('test/fixtures').filter(isScenarioFile);
    expect(files.length).toBeGreaterThan(1);
    for (const file of files) {
      const { value } = parseYaml(readFileSync(file, 'utf8'), file);
      expect(validate(value), file).toBe(shapeChecker(SCENARIO_SHAPE)(value).length === 0);
    }
  });

  const state = (body: string): string => `chart: c\ninitial: s\nstates:\n  s:\n${body}\n  done: { final: true }\n`;
  const structural: [string, string][] = [
    ['two drivers', state('    gate: { count: 1 }\n    next: done\n    run: fs.makeDir\n    with: { path: /srv/x }\n    on_success: done\n    on_failure: done')],
    ['no driver', state('    description: waits for nothing')],
    ['an unknown key', state('    final: true\n    descripton: typo')],
    ['a key of another driver', state('    after: 1m\n    next: done\n    on_success: done')],
    ['a gate without next', state('    gate: { count: 2 }')],
    ['a step without on_failure', state('    run: fs.makeDir\n    with: { path: /srv/x }\n    on_success: done')],
    ['a bare number as a duration', state('    after: 10\n    next: done')],
    ['a duration in the wrong order', state('    after: 30s1m\n    next: done')],
    ['a time that is not ISO 8601', state('    at: tomorrow at noon\n    next: done')],
    ['both at and after', state('    at: "2026-12-01T02:00:00Z"\n    after: 1m\n    next: done')],
    ['a step timeout written as a waiting one', state('    run: fs.makeDir\n    with: { path: /srv/x }\n    on_success: done\n    on_failure: done\n    timeout: { after: 1m, next: done }')],
    ['a waiting timeout written as a duration', state('    on: { go: done }\n    timeout: 1h')],
    ['a waiting timeout without next', state('    on: { go: done }\n    timeout: { after: 1h }')],
    ['final: false', state('    final: false')],
    ['an unknown handler', state('    run: fs.makeDri\n    with: { path: /srv/x }\n    on_success: done\n    on_failure: done')],
    ["a handler's missing argument", state('    run: fs.move\n    with: { from: /srv/a }\n    on_success: done\n    on_failure: done')],
    ["an argument the handler does not take", state('    run: fs.makeDir\n    with: { path: /srv/x, mode: "0700" }\n    on_success: done\n    on_failure: done')],
    ['a gate count of 0', state('    gate: { count: 0 }\n    next: done')],
    ['a bad state name', 'chart: c\ninitial: s\nstates:\n  s: { after: 1m, next: "-x" }\n  "-x": { final: true }\n'],
    ['a context typed other than object', 'chart: c\ninitial: done\ncontext: { type: string }\nstates: { done: { final: true } }\n'],
    ['a StateService func it does not know', 'current_state: a\nstates:\n  - name: a\n    func: decrement\n    current: { key: count, value: 0 }\n    target: { name: b, when: { key: count, value: 1 } }\n  - name: b\n'],
    ['a StateService state without a name', 'current_state: a\nstates:\n  - name: a\n  - func: increment\n'],
  ];

  it('takes what StateService ignores (an unknown key is a warning of validate, not a problem)', () => {
    const source = 'current_state: a\nowner: ops-team\nstates:\n  - name: a\n    colour: red\n';
    expect(validateProblems(source, 'c.yaml', handlerRegistry())).toEqual([]);
    expect(compile(editorSchema(handlerRegistry()))(parseYaml(source, 'c.yaml').value)).toBe(true);
  });

  it.each(structural)('refuses %s, as validate does', (_, source) => {
    expect(validateProblems(source, 'c.yaml', handlerRegistry())).not.toEqual([]);
    const validate = compile(editorSchema(handlerRegistry()));
    expect(validate(parseYaml(source, 'c.yaml').value)).toBe(false);
  });
});
