// Runs docs/recipes.md as an operator would: extracts the marked snippets, runs shell with bash, fakes the tooling.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export const RECIPES_FILE = fileURLToPath(new URL('../../docs/recipes.md', import.meta.url));
export const ROLLING_UPGRADE_FILE = fileURLToPath(new URL('../../charts/rolling-upgrade.yaml', import.meta.url));
export const NODES = ['web1', 'web2', 'web3'] as const;

export interface Recipe {
  readonly name: string;
  readonly lang: string;
  readonly code: string;
}

/** Every `<!-- recipe: NAME -->` followed by a fenced block, by name; a name used twice is an error. */
export async function readRecipes(file = RECIPES_FILE): Promise<Map<string, Recipe>> {
  const text = await readFile(file, 'utf8');
  const recipes = new Map<string, Recipe>();
  for (const match of text.matchAll(/<!--\s*recipe:\s*([\w-]+)\s*-->\s*\n```(\w+)\n([\s\S]*?)\n```/g)) {
    const [, name, lang, code] = match as unknown as [string, string, string, string];
    if (recipes.has(name)) throw new Error(`${file}: recipe ${name} appears twice`);
    recipes.set(name, { name, lang, code });
  }
  return recipes;
}

export function recipe(recipes: Map<string, Recipe>, name: string, lang: string): Recipe {
  const found = recipes.get(name);
  if (!found) throw new Error(`docs/recipes.md has no recipe ${name}; it has ${[...recipes.keys()].join(', ')}`);
  if (found.lang !== lang) throw new Error(`recipe ${name} is ${found.lang}, expected ${lang}`);
  return found;
}

export interface Durations {
  /** Serve the copy under another name, so a server can hold a slow and a fast copy side by side. */
  readonly name?: string;
  readonly window?: string;
  readonly drain?: string;
  readonly upgrade?: string;
  readonly verify?: string;
  readonly rollback?: string;
}

/** charts/rolling-upgrade.yaml itself, with shorter window and timeouts so a test need not wait minutes. */
export async function rollingUpgradeChart(durations: Durations): Promise<string> {
  const chart = yaml.load(await readFile(ROLLING_UPGRADE_FILE, 'utf8')) as { chart: string; states: Record<string, Record<string, unknown>> };
  const { name, window, ...timeouts } = durations;
  if (name) chart.chart = name;
  if (window) chart.states['window']!['after'] = window;
  for (const [state, after] of Object.entries(timeouts)) {
    const timeout = chart.states[state]!['timeout'] as { after: string } | undefined;
    if (!timeout) throw new Error(`state ${state} of the rolling upgrade has no timeout to shorten`);
    timeout.after = after!;
  }
  return yaml.dump(chart);
}

export interface ScriptResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningScript {
  readonly child: ChildProcess;
  readonly done: Promise<ScriptResult>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout satisfies `test`; rejects if the script ends first or `ms` pass. */
  output(test: (stdout: string) => boolean, ms?: number): Promise<string>;
  stop(): Promise<ScriptResult>;
}

/** Runs `script` with `interpreter -c`, never through a shell string of ours; env is added to the test's. */
export function runScript(script: string, env: NodeJS.ProcessEnv, interpreter = 'bash'): RunningScript {
  const child = spawn(interpreter, ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const listener of listeners) listener();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<ScriptResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      for (const listener of listeners) listener();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child, done,
    stdout: () => stdout,
    stderr: () => stderr,
    output(test, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no matching output within ${ms} ms; got:\n${stdout}\n${stderr}`)), ms);
        const check = (): void => {
          if (test(stdout)) finish();
          else if (child.exitCode !== null || child.signalCode !== null) finish(new Error(`script ended (${child.exitCode ?? child.signalCode}) before the output appeared:\n${stdout}\n${stderr}`));
        };
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve(stdout);
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return done;
    },
  };
}

export interface FakeTooling {
  /** Put first on PATH: holds the stand-in `webapp-ctl`. */
  readonly binDir: string;
  /** Environment for one node; `fail` lists `node:phase` pairs where webapp-ctl exits 1, `hold` those where it waits for `release()`. */
  env(node: string, fail?: readonly string[], hold?: readonly string[]): NodeJS.ProcessEnv;
  /** Lets every held webapp-ctl carry on. */
  release(): Promise<void>;
  /** Holds webapp-ctl again where `hold` says, after a release(). */
  holdAgain(): Promise<void>;
  /** Calls so far, as "node phase release" lines. */
  calls(): Promise<string[]>;
}

const WEBAPP_CTL = `#!/bin/sh
# Stands in for the operator's own tooling in docs/recipes.md: logs each call, fails where told to.
node=\${WEBAPP_NODE:?WEBAPP_NODE is not set}
echo "$node $*" >> "$WEBAPP_LOG"
# Held at most a minute, so a hold no test releases (its play was killed) leaves nothing running.
case " \${WEBAPP_HOLD:-} " in *" $node:$1 "*) n=0; while [ ! -e "$WEBAPP_LOG.go" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done ;; esac
case " \${WEBAPP_FAIL:-} " in *" $node:$1 "*) echo "webapp-ctl: $1 failed on $node" >&2; exit 1 ;; esac
exit 0
`;

export async function fakeTooling(dir: string): Promise<FakeTooling> {
  const binDir = join(dir, 'bin');
  const log = join(dir, 'webapp-ctl.log');
  await mkdir(binDir, { recursive: true });
  await writeFile(join(binDir, 'webapp-ctl'), WEBAPP_CTL);
  await chmod(join(binDir, 'webapp-ctl'), 0o755);
  await writeFile(log, '');
  return {
    binDir,
    env: (node, fail = [], hold = []) => ({
      PATH: `${binDir}:${process.env['PATH'] ?? ''}`, WEBAPP_NODE: node, WEBAPP_LOG: log, WEBAPP_FAIL: fail.join(' '), WEBAPP_HOLD: hold.join(' '),
    }),
    release: () => writeFile(`${log}.go`, ''),
    holdAgain: () => rm(`${log}.go`, { force: true }),
    calls: async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean),
  };
}

export interface Snapshot {
  readonly state: string;
  readonly status: string;
  readonly revision: number;
  readonly counter: number;
  readonly callers: string[];
  readonly context: Record<string, unknown>;
  readonly deadline: { at: number; kind: string } | null;
  readonly enteredAt: string;
  readonly history: { revision: number; from: string | null; to: string; cause: string; caller?: string; callers?: string[]; at: string; error?: string }[];
  readonly failures: { node: string; error: string; at: string }[];
}

/** Headers every helper below sends: the token of the operator, where the server wants one. */
export const client: { headers: Record<string, string> } = { headers: {} };

export async function getRun(url: string, run: string, chart = 'rolling-upgrade'): Promise<Snapshot> {
  const answer = await fetch(`${url}/charts/${chart}/instances/${run}`, { headers: client.headers });
  if (answer.status !== 200) throw new Error(`GET run ${run}: ${answer.status} ${await answer.text()}`);
  return (await answer.json()) as Snapshot;
}

/** Creates a run; the rolling upgrade needs a release, so one is made up unless `context` names it. */
export async function createRun(url: string, run: string, context: Record<string, unknown> = { release: `${run}-release` }, chart = 'rolling-upgrade'): Promise<Snapshot> {
  const answer = await fetch(`${url}/charts/${chart}/instances`, {
    method: 'POST', headers: { ...client.headers, 'content-type': 'application/json' }, body: JSON.stringify({ id: run, context }),
  });
  if (answer.status !== 201) throw new Error(`POST run ${run}: ${answer.status} ${await answer.text()}`);
  return (await answer.json()) as Snapshot;
}

/** Long-polls (no sleeping) until the run is in `state`, or fails after `ms`. */
export async function waitForState(url: string, run: string, state: string, ms = 10_000, chart = 'rolling-upgrade'): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`run ${run} did not reach ${state} within ${ms} ms; it is in ${(await getRun(url, run, chart)).state}`);
    const answer = await fetch(`${url}/charts/${chart}/instances/${run}/state?state=${state}&wait=${Math.max(1, Math.min(left, 5000))}ms`, { headers: client.headers });
    await answer.arrayBuffer();
    if (answer.status === 200) return;
    if (answer.status !== 406) throw new Error(`waiting for ${state}: ${answer.status}`);
  }
}

/** Blocks on the run's revision (GET ?index=REV&wait=) until `test` holds; no sleeping, no busy polling. */
export async function waitForRun(url: string, run: string, test: (snapshot: Snapshot) => boolean, ms = 10_000, chart = 'rolling-upgrade'): Promise<Snapshot> {
  const deadline = Date.now() + ms;
  let snapshot = await getRun(url, run, chart);
  while (!test(snapshot)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`run ${run} did not reach the expected condition within ${ms} ms; it is ${JSON.stringify({ state: snapshot.state, callers: snapshot.callers, revision: snapshot.revision })}`);
    const answer = await fetch(`${url}/charts/${chart}/instances/${run}?index=${snapshot.revision}&wait=${Math.max(1, Math.min(left, 5000))}ms`, { headers: client.headers });
    if (answer.status !== 200) throw new Error(`GET run ${run}: ${answer.status} ${await answer.text()}`);
    snapshot = (await answer.json()) as Snapshot;
  }
  return snapshot;
}

/** A chart of events only, for tests that need many transitions quickly. */
export const PINGPONG = `chart: pingpong
initial: ping
states:
  ping: { on: { go: pong, stop: over } }
  pong: { on: { go: ping, stop: over } }
  over: { final: true }
`;
