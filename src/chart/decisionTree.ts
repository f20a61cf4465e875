// The model format POST /state predicts with: a decision tree of threshold tests whose leaves name the chart's states.

import { didYouMean, listNames, type ProblemLog } from './problem.js';
import { isRecord, joinPath } from './yamlSource.js';

/** One test (`feature <= threshold` goes to `le`, else `gt`), or a leaf naming the state predicted. */
export type TreeNode =
  | { readonly feature: number; readonly threshold: number; readonly le: number; readonly gt: number }
  | { readonly state: string };

export interface DecisionTree {
  /** The names of a row's values, in order. */
  readonly features: readonly string[];
  /** Compare values rounded to 32-bit floats, as scikit-learn's trees do, so an exported tree predicts as it did there. */
  readonly float32: boolean;
  /** Flat, root first, walked in a loop: however deep the tree, predicting costs no stack. */
  readonly nodes: readonly TreeNode[];
}

export const DECISION_TREE = 'decision_tree';
/** Bounds what one row costs, whatever a request sends: scikit-learn trees of real data are a few dozen levels deep. */
export const MAX_TREE_DEPTH = 256;
const TOP_KEYS = ['kind', 'description', 'precision', 'features', 'tree'];
const TEST_KEYS = ['feature', 'threshold', 'le', 'gt'];

/** Checks a parsed model file against the format and the chart's states; logs every problem and returns the tree when there are none. */
export function compileDecisionTree(doc: Record<string, unknown>, states: readonly string[], log: ProblemLog): DecisionTree | undefined {
  for (const key of Object.keys(doc)) {
    if (!TOP_KEYS.includes(key)) log.add(key, `unknown key '${key}'${didYouMean(key, TOP_KEYS) || `; a model has ${listNames(TOP_KEYS)}`}`);
  }
  if (doc['kind'] !== DECISION_TREE) {
    log.add(doc['kind'] === undefined ? '' : 'kind', `kind must be ${DECISION_TREE}, the one model format chartd reads${doc['kind'] === undefined ? " (add 'kind: decision_tree')" : ''}`);
  }
  if (doc['description'] !== undefined && typeof doc['description'] !== 'string') log.add('description', 'description must be text');
  const precision = doc['precision'];
  if (precision !== undefined && precision !== 'float32' && precision !== 'float64') {
    log.add('precision', `precision is float32 (values rounded to 32-bit floats before each test, as scikit-learn does) or float64 (the default), not '${String(precision)}'`);
  }
  const features = checkFeatures(doc['features'], log);
  if (!features) return undefined;
  if (!isRecord(doc['tree'])) {
    log.add(doc['tree'] === undefined ? '' : 'tree', "tree must be a mapping: a test { feature, threshold, le, gt } or a leaf { state }");
    return undefined;
  }
  const nodes = flatten(doc['tree'], features, states, log);
  if (!log.empty) return undefined;
  return { features, float32: precision === 'float32', nodes };
}

/** The state each row leads to; rows must already fit the tree (see rowsProblem). */
export function predict(tree: DecisionTree, rows: readonly (readonly number[])[]): string[] {
  return rows.map((row) => {
    let node = tree.nodes[0]!;
    while (!('state' in node)) {
      const value = tree.float32 ? Math.fround(row[node.feature]!) : row[node.feature]!;
      node = tree.nodes[value <= node.threshold ? node.le : node.gt]!;
    }
    return node.state;
  });
}

/** Why `values` cannot be predicted from (a list of rows, each a list of the tree's features as numbers), or undefined. */
export function rowsProblem(tree: DecisionTree, values: unknown): string | undefined {
  const shape = `${tree.features.length} number${tree.features.length === 1 ? '' : 's'} (${tree.features.join(', ')})`;
  const example = `[[${tree.features.map(() => '0.5').join(', ')}]]`;
  if (!Array.isArray(values) || values.length === 0) return `values must be a list of rows, each a list of ${shape}, e.g. ${example}`;
  if (values.every((value) => typeof value === 'number')) return `values is one list of numbers; give each row as a list of its own, e.g. [${JSON.stringify(values.slice(0, 8))}]`;
  for (const [index, row] of values.entries()) {
    if (!Array.isArray(row)) return `values[${index}] must be a list of ${shape}`;
    if (row.length !== tree.features.length) return `values[${index}] has ${row.length} number${row.length === 1 ? '' : 's'}; the model takes ${shape}`;
    const bad = row.findIndex((value) => typeof value !== 'number' || !Number.isFinite(value));
    if (bad >= 0) return `values[${index}][${bad}] (${tree.features[bad]}) is ${JSON.stringify(row[bad])}; every value must be a number`;
  }
  return undefined;
}

function checkFeatures(raw: unknown, log: ProblemLog): string[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    log.add(raw === undefined ? '' : 'features', 'features must list the names of a row\'s values, in order, e.g. features: [cpu_load, error_rate]');
    return undefined;
  }
  const seen = new Set<string>();
  raw.forEach((name, index) => {
    if (typeof name !== 'string' || name === '') log.add(`features[${index}]`, 'a feature name must be non-empty text');
    else if (seen.has(name)) log.add(`features[${index}]`, `feature '${name}' is listed twice`);
    else seen.add(name);
  });
  return seen.size === raw.length ? (raw as string[]) : undefined;
}

/** Walks the nested tree with a list of pending nodes (no recursion), checking each and numbering them root first. */
function flatten(root: Record<string, unknown>, features: readonly string[], states: readonly string[], log: ProblemLog): TreeNode[] {
  const nodes: TreeNode[] = [];
  const pending: { raw: unknown; path: string; slot: number; depth: number }[] = [{ raw: root, path: 'tree', slot: 0, depth: 1 }];
  nodes.push({ state: '' });
  let tooDeep = false;
  while (pending.length) {
    const { raw, path, slot, depth } = pending.pop()!;
    if (depth > MAX_TREE_DEPTH) {
      // Said once: every branch below that level would say it again.
      if (!tooDeep) log.add(path, `the tree is more than ${MAX_TREE_DEPTH} levels deep here; a prediction walks a level per test for every row, so prune the tree (scikit-learn: max_depth)`);
      tooDeep = true;
      continue;
    }
    if (!isRecord(raw)) {
      log.add(path, 'must be a mapping: a test { feature, threshold, le, gt } or a leaf { state }');
      continue;
    }
    if ('state' in raw) {
      for (const key of Object.keys(raw)) if (key !== 'state') log.add(joinPath(path, key), `a leaf has only state; '${key}' does not belong here`);
      const state = raw['state'];
      if (typeof state !== 'string' || !states.includes(state)) {
        log.add(joinPath(path, 'state'), `leaf names ${JSON.stringify(state)}, which is not a state of the chart${typeof state === 'string' ? didYouMean(state, states) : ''} (its states: ${listNames(states)})`);
      }
      nodes[slot] = { state: String(state) };
      continue;
    }
    for (const key of Object.keys(raw)) {
      if (!TEST_KEYS.includes(key)) log.add(joinPath(path, key), `unknown key '${key}'${didYouMean(key, TEST_KEYS) || `; a test has ${listNames(TEST_KEYS)}, a leaf has state`}`);
    }
    const feature = typeof raw['feature'] === 'string' ? features.indexOf(raw['feature']) : -1;
    if (feature < 0) {
      const named = raw['feature'];
      log.add(joinPath(path, 'feature'), named === undefined
        ? 'a test needs feature: the name of the value it looks at'
        : `feature ${JSON.stringify(named)} is not one of the model's features${typeof named === 'string' ? didYouMean(named, features) : ''} (${listNames(features)})`);
    }
    const threshold = raw['threshold'];
    if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
      log.add(joinPath(path, 'threshold'), `a test needs threshold: a number (values at or below it go to le, the rest to gt), not ${JSON.stringify(threshold ?? null)}`);
    }
    const le = nodes.push({ state: '' }) - 1;
    const gt = nodes.push({ state: '' }) - 1;
    nodes[slot] = { feature, threshold: threshold as number, le, gt };
    for (const [branch, at] of [['gt', gt], ['le', le]] as const) {
      if (raw[branch] === undefined) log.add(path, `a test needs ${branch}: the node for values ${branch === 'le' ? 'at or below' : 'above'} the threshold`);
      else pending.push({ raw: raw[branch], path: joinPath(path, branch), slot: at, depth: depth + 1 });
    }
  }
  return nodes;
}
