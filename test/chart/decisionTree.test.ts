// The decision-tree model format: checked like charts (file, path, line), predicting without recursion.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileDecisionTree, MAX_TREE_DEPTH, predict, rowsProblem, type DecisionTree } from '../../src/chart/decisionTree.js';
import { loadChartPaths } from '../../src/chart/load.js';
import { formatProblem, ProblemLog } from '../../src/chart/problem.js';
import { parseYaml } from '../../src/chart/yamlSource.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import { createRegistry } from '../../src/handlers/registry.js';
import { removeDir, tempDir, TRAFFIC_LIGHT } from '../support/server.js';

const STATES = ['green_state', 'red_state', 'blue_state'];

const LOAD_MODEL = `kind: decision_tree
description: red when the load is high, blue when errors are too
features: [cpu_load, error_rate]
tree:
  feature: cpu_load
  threshold: 0.75
  le:
    feature: error_rate
    threshold: 0.1
    le: { state: green_state }
    gt: { state: blue_state }
  gt: { state: red_state }
`;

function compile(source: string, states = STATES): { tree?: DecisionTree; problems: string[] } {
  const doc = parseYaml(source, 'load.yaml');
  const log = new ProblemLog('load.yaml', doc.lineOf);
  const tree = compileDecisionTree(doc.value, states, log);
  return { ...(tree ? { tree } : {}), problems: log.sorted().map(formatProblem) };
}

describe('a decision tree', () => {
  it('predicts one state per row, taking le at or below the threshold', () => {
    const { tree, problems } = compile(LOAD_MODEL);
    expect(problems).toEqual([]);
    expect(predict(tree!, [[0.2, 0.01], [0.75, 0.1], [0.9, 0], [0.5, 0.3]])).toEqual(['green_state', 'green_state', 'red_state', 'blue_state']);
  });

  it('compares 32-bit floats when its precision says so, as scikit-learn does', () => {
    const plain = compile(LOAD_MODEL).tree!;
    const float32 = compile(`precision: float32\n${LOAD_MODEL}`).tree!;
    // 0.1 rounds up to 0.10000000149 as a 32-bit float: past a threshold of exactly 0.1.
    expect(predict(plain, [[0, 0.1]])).toEqual(['green_state']);
    expect(predict(float32, [[0, 0.1]])).toEqual(['blue_state']);
  });

  it(`walks a tree ${MAX_TREE_DEPTH} levels deep, and refuses a deeper one: every row walks a level per test`, () => {
    const chain = (levels: number): Record<string, unknown> => {
      let tree: Record<string, unknown> = { state: 'red_state' };
      for (let level = levels - 2; level >= 0; level -= 1) tree = { feature: 'x', threshold: level, le: { state: 'green_state' }, gt: tree };
      return tree;
    };
    const log = new ProblemLog('deep.json', () => 1);
    const compiled = compileDecisionTree({ kind: 'decision_tree', features: ['x'], tree: chain(MAX_TREE_DEPTH) }, STATES, log);
    expect(log.problems).toEqual([]);
    expect(predict(compiled!, [[5000], [-1], [100.5]])).toEqual(['red_state', 'green_state', 'green_state']);
    const deeper = new ProblemLog('deep.json', () => 1);
    expect(compileDecisionTree({ kind: 'decision_tree', features: ['x'], tree: chain(MAX_TREE_DEPTH + 1) }, STATES, deeper)).toBeUndefined();
    expect(deeper.problems.map((problem) => problem.message)).toEqual([`the tree is more than ${MAX_TREE_DEPTH} levels deep here; a prediction walks a level per test for every row, so prune the tree (scikit-learn: max_depth)`]);
  });

  it('reports every mistake with its path and line', () => {
    const twice = compile('kind: decision_tree\nfeatures: [cpu_load, error_rate, cpu_load]\ntree: { state: green_state }\n');
    expect(twice).toEqual({ problems: ["load.yaml:2: features[2]: feature 'cpu_load' is listed twice"] });
    const second = compile(`kind: decision_tree
features: [cpu_load, error_rate]
tree:
  feature: cpu_lod
  threshold: high
  le: { state: gren_state, weight: 2 }
  colour: red
`);
    expect(second.problems).toEqual([
      'load.yaml:3: tree: a test needs gt: the node for values above the threshold',
      "load.yaml:4: tree.feature: feature \"cpu_lod\" is not one of the model's features (did you mean 'cpu_load'?) (cpu_load, error_rate)",
      'load.yaml:5: tree.threshold: a test needs threshold: a number (values at or below it go to le, the rest to gt), not "high"',
      "load.yaml:6: tree.le.weight: a leaf has only state; 'weight' does not belong here",
      "load.yaml:6: tree.le.state: leaf names \"gren_state\", which is not a state of the chart (did you mean 'green_state'?) (its states: green_state, red_state, blue_state)",
      "load.yaml:7: tree.colour: unknown key 'colour'; a test has feature, threshold, le, gt, a leaf has state",
    ]);
    expect(compile('kind: random_forest\nfeatures: [x]\ntree: { state: red_state }\n').problems).toEqual([
      'load.yaml:1: kind: kind must be decision_tree, the one model format chartd reads',
    ]);
  });

  it('says what is wrong with the rows a request sends', () => {
    const tree = compile(LOAD_MODEL).tree!;
    expect(rowsProblem(tree, [[0.1, 0.2]])).toBeUndefined();
    expect(rowsProblem(tree, undefined)).toBe('values must be a list of rows, each a list of 2 numbers (cpu_load, error_rate), e.g. [[0.5, 0.5]]');
    expect(rowsProblem(tree, [100, 0])).toBe('values is one list of numbers; give each row as a list of its own, e.g. [[100,0]]');
    expect(rowsProblem(tree, [[1, 2], [3]])).toBe('values[1] has 1 number; the model takes 2 numbers (cpu_load, error_rate)');
    expect(rowsProblem(tree, [[1, '2']])).toBe('values[0][1] (error_rate) is "2"; every value must be a number');
    expect(rowsProblem(tree, [[1, 2], 'x'])).toBe('values[1] must be a list of 2 numbers (cpu_load, error_rate)');
  });
});

describe('models named by a chart', () => {
  let dir: string;
  const options = { handlers: createRegistry(builtinHandlers()) };
  const chartWith = (models: string) => `${TRAFFIC_LIGHT}models:\n${models}`;

  beforeAll(async () => {
    dir = await tempDir('chartd-models-');
    await mkdir(join(dir, 'charts', 'models'), { recursive: true });
    await writeFile(join(dir, 'charts', 'models', 'load.yaml'), LOAD_MODEL);
    await writeFile(join(dir, 'charts', 'models', 'wrong.json'), JSON.stringify({ kind: 'decision_tree', features: ['x'], tree: { state: 'purple_state' } }, null, 1));
  });

  afterAll(async () => {
    await removeDir(dir);
  });

  it('are loaded from files next to the chart and served by name', async () => {
    await writeFile(join(dir, 'charts', 'lights.yaml'), chartWith('  load: models/load.yaml\n'));
    const { charts, problems, models } = await loadChartPaths([join(dir, 'charts', 'lights.yaml')], options);
    expect(problems).toEqual([]);
    expect(charts[0]!.models).toEqual({ load: { file: 'models/load.yaml', line: 25 } });
    expect(models.names('lights')).toEqual(['load']);
    expect(predict(models.get('lights', 'load')!, [[0.9, 0]])).toEqual(['red_state']);
  });

  it('keep the chart from loading when one is missing or wrong: the chart file at its line, or the model file at its own', async () => {
    await writeFile(join(dir, 'charts', 'lights.yaml'), chartWith('  missing: models/none.json\n  wrong: models/wrong.json\n'));
    const { charts, problems } = await loadChartPaths([join(dir, 'charts', 'lights.yaml')], options);
    expect(charts).toEqual([]);
    expect(problems.map(formatProblem)).toEqual([
      `${join(dir, 'charts', 'lights.yaml')}:25: models.missing: model file models/none.json: cannot read the model file: no such file or directory`,
      `${join(dir, 'charts', 'models', 'wrong.json')}:7: tree.state: leaf names "purple_state", which is not a state of the chart (its states: green_state, red_state, blue_state)`,
    ]);
  });
});
