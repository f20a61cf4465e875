// POST /state against a model exported from a real scikit-learn tree: chartd predicts what clf.predict does.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { readRecipes, recipe } from '../support/recipes.js';
import { removeDir, startTestServer, tempDir, type TestServer } from '../support/server.js';

const run = promisify(execFile);

const CHART = `current_state: green_state
models:
  load: models/load.json
states:
  - name: green_state
    func: increment
    current: { key: count, value: 0 }
    target: { name: red_state, when: { key: count, value: 1 } }
  - name: red_state
    func: increment
    current: { key: count, value: 0 }
    target: { name: blue_state, when: { key: count, value: 1 } }
  - name: blue_state
`;

// Trains on made-up host metrics, exports with the docs' export_tree, and prints the held-out rows with what
// clf.predict says of them. Rows whose value sits exactly on a threshold are added: there only a comparison of
// 32-bit floats, as scikit-learn makes, gives scikit-learn's answer.
const TRAIN = `
import json, sys
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

rng = np.random.RandomState(7)
X = rng.uniform(0, 1, size=(1200, 3)) * [100.0, 16.0, 1.0]
noise = rng.uniform(0, 1, 1200)
y = np.where(X[:, 0] + 10 * noise > 85, "red_state", np.where(X[:, 2] > 0.25 + 0.3 * noise, "blue_state", "green_state"))
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
clf = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)
export_tree(clf, ["cpu", "memory", "errors"], sys.argv[1])
edges = []
for i in range(clf.tree_.node_count):
    if clf.tree_.children_left[i] != -1:
        row = X_test[i % len(X_test)].copy()
        row[clf.tree_.feature[i]] = clf.tree_.threshold[i]
        edges.append(row)
rows = np.vstack([X_test, np.array(edges)])
json.dump({"rows": rows.tolist(), "expected": clf.predict(rows).tolist(), "depth": int(clf.get_depth()), "edges": len(edges)}, sys.stdout)
`;

interface Trained {
  readonly rows: number[][];
  readonly expected: string[];
  readonly depth: number;
  readonly edges: number;
}

let dir: string;
let server: TestServer;
let trained: Trained;
const tokens = { reader: newToken(), writer: newToken() };

/** Debian's python3-sklearn installs into the system's python3, which need not be the first on PATH. */
async function pythonWithSklearn(): Promise<string> {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      await run(python, ['-c', 'import sklearn']);
      return python;
    } catch {
      // not this one
    }
  }
  throw new Error('no python3 with scikit-learn: install python3-sklearn (bash .ci/deps.sh does)');
}

beforeAll(async () => {
  dir = await tempDir('chartd-predict-');
  await mkdir(join(dir, 'charts'));
  await mkdir(join(dir, 'models'));
  await writeFile(join(dir, 'charts', 'lights.yaml'), CHART.replace('models/load.json', '../models/load.json'));
  const exporter = recipe(await readRecipes('docs/stateservice.md'), 'export-tree', 'python').code;
  const { stdout } = await run(await pythonWithSklearn(), ['-c', `${exporter}\n${TRAIN}`, join(dir, 'models', 'load.json')], { maxBuffer: 16 * 1024 * 1024 });
  trained = JSON.parse(stdout) as Trained;
  await writeFile(join(dir, 'auth.yaml'), `reads: token
tokens:
  reader: { hash: '${hashOf(tokens.reader)}', scopes: [read] }
  writer: { hash: '${hashOf(tokens.writer)}', scopes: [{ write: [lights] }] }
`);
  server = await startTestServer({ chartDir: join(dir, 'charts'), dataDir: join(dir, 'data'), authFile: join(dir, 'auth.yaml') });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (dir) await removeDir(dir);
});

function post(path: string, body: unknown, token: string | null = tokens.reader, type = 'application/json'): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
}

describe('POST /state with a model exported from scikit-learn', () => {
  it('predicts what clf.predict does on every held-out row, thresholds included', async () => {
    expect(trained.depth).toBeGreaterThan(5);
    expect(trained.edges).toBeGreaterThan(20);
    const answer = await post('/state', { name: 'load', values: trained.rows });
    expect(answer.status).toBe(200);
    const { state } = (await answer.json()) as { state: string[] };
    expect(state).toHaveLength(trained.expected.length);
    const differing = state.flatMap((predicted, index) => (predicted === trained.expected[index] ? [] : [{ row: trained.rows[index], chartd: predicted, sklearn: trained.expected[index] }]));
    expect(differing).toEqual([]);
    expect(new Set(state)).toEqual(new Set(['green_state', 'red_state', 'blue_state']));
  });

  it('answers the same by the chart\'s name, and the model file is JSON written by the docs\' exporter', async () => {
    const rows = trained.rows.slice(0, 5);
    const answer = await post('/charts/lights/state', { name: 'load', values: rows });
    expect(await answer.json()).toEqual({ state: trained.expected.slice(0, 5) });
    const model = JSON.parse(await readFile(join(dir, 'models', 'load.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(model)).toEqual(['kind', 'precision', 'features', 'tree']);
  });

  it('answers 400 naming what is wrong with a request, and changes nothing', async () => {
    const before = await fetch(`${server.url}/charts/lights/instances/default`, { headers: { authorization: `Bearer ${tokens.reader}` } }).then((answer) => answer.json()) as { revision: number };
    const cases: [unknown, string, RegExp][] = [
      [{}, 'unknown_model', /name must be the name of one of chart lights's models \(its models: load\)/],
      [{ name: 'heat', values: [[1, 2, 3]] }, 'unknown_model', /chart lights has no model "heat" \(its models: load\)/],
      [{ name: 'load' }, 'invalid_values', /values must be a list of rows, each a list of 3 numbers \(cpu, memory, errors\)/],
      [{ name: 'load', values: [100, 0, 1] }, 'invalid_values', /one list of numbers; give each row as a list of its own, e\.g\. \[\[100,0,1\]\]/],
      [{ name: 'load', values: [[1, 2]] }, 'invalid_values', /values\[0\] has 2 numbers; the model takes 3 numbers/],
      [{ name: 'load', values: [[1, 2, 3], [1, null, 3]] }, 'invalid_values', /values\[1\]\[1\] \(memory\) is null/],
      [{ name: 'load', values: [[1, 2, 3]], model: 'x' }, 'bad_request', /unknown field\(s\) in body: model/],
      [[1, 2], 'bad_request', /body must be a JSON object/],
      ['{"name": ', 'invalid_json', /not valid JSON/],
    ];
    for (const [body, code, message] of cases) {
      const answer = await post('/state', body);
      const { error } = (await answer.json()) as { error: { code: string; message: string } };
      expect([answer.status, error.code], JSON.stringify(body)).toEqual([400, code]);
      expect(error.message).toMatch(message);
    }
    const after = await fetch(`${server.url}/charts/lights/instances/default`, { headers: { authorization: `Bearer ${tokens.reader}` } }).then((answer) => answer.json()) as { revision: number };
    expect(after.revision).toBe(before.revision);
  });

  it('needs the read scope, as a GET does: 401 without a token, 403 with a write-only one', async () => {
    const body = { name: 'load', values: trained.rows.slice(0, 1) };
    expect((await post('/state', body, null)).status).toBe(401);
    expect((await post('/state', body, tokens.writer)).status).toBe(403);
    expect((await post('/state', body, tokens.reader)).status).toBe(200);
  });
});
