// Child processes of a run: servers started as an operator would (timed to their listening line), and load runs.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('../baseline.mjs', import.meta.url));
const LOADERS = { autocannon: fileURLToPath(new URL('./load.mjs', import.meta.url)), wrk: fileURLToPath(new URL('./wrk.mjs', import.meta.url)) };
const START_TIMEOUT_MS = 60_000;
/** The end of a server's standard error kept for error messages: a server logging at info writes a line per transition. */
const STDERR_KEPT = 64 * 1024;

/** Spawns `node args…`, resolves once stdout says `listening on URL`; startupMs runs from spawn to that line. */
export function startServer(name, args) {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    if (stderr.length > 2 * STDERR_KEPT) stderr = stderr.slice(-STDERR_KEPT);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not print its listening line within ${START_TIMEOUT_MS / 1000} s:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (!match) return;
      const startupMs = performance.now() - started;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      resolve({
        name, url: match[1], pid: child.pid, startupMs,
        memory: () => memoryOf(child.pid),
        stderr: () => stderr,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const { code, signal } = await exited;
          if (code !== 0 && signal !== 'SIGTERM') throw new Error(`${name} exited with ${code ?? signal} on SIGTERM:\n${stderr}`);
        },
      });
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${stderr}`));
    });
  });
}

/** `cli` is the chartd to start: this checkout's build unless another's dist/cli/main.js is named. */
export function startChartd({ chartFile, dataDir, extraArgs = [], name = 'chartd', cli = CLI }) {
  return startServer(name, [cli, 'serve', '--chart', chartFile, '--data', dataDir, '--port', '0', '--log-level', 'warn', ...extraArgs]);
}

export function startBaseline() {
  return startServer('baseline', [BASELINE]);
}

/** Resident memory now (VmRSS) and at its peak so far (VmHWM), in MB, from /proc. */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
}

/**
 * One load run in its own process, by `loader` (load.mjs for autocannon, wrk.mjs; both take the same `spec`);
 * rejects when the server answered anything but 2xx.
 */
export function runLoad(loader, spec) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOADERS[loader], JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load run failed (${code}):\n${stderr}`));
      const result = JSON.parse(stdout);
      const bad = Object.entries(result.statuses).filter(([status]) => !status.startsWith('2'));
      if (bad.length || result.errors || result.ok === 0) {
        return reject(new Error(`${spec.method} ${spec.path}: answers ${JSON.stringify(result.statuses)}, ${result.errors} errors; a benchmark of failures measures nothing`));
      }
      resolve(result);
    });
  });
}

const SEED = fileURLToPath(new URL('../seed.mjs', import.meta.url));

/** Runs bench/seed.mjs (or `seed`, another checkout's, for its own store format) in its own process; resolves with what it reports. */
export function runSeed({ dataDir, chartFile, count, history = 1, seed = SEED }) {
  return new Promise((resolve, reject) => {
    // --history only when asked for: a seed.mjs of an older checkout has no such option (it seeds a creation, the default).
    const args = [seed, '--data', dataDir, '--chart', chartFile, '--count', String(count), ...(history === 1 ? [] : ['--history', String(history)])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`seeding ${dataDir} failed (${code}):\n${stderr}`))));
  });
}

/** Creates `count` instances named PREFIX0… of bench-gate through `url`, 16 at a time. */
export async function createInstances(url, prefix, count) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const id = `${prefix}${next++}`;
      const answer = await fetch(`${url}/charts/bench-gate/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
      if (answer.status !== 201) throw new Error(`creating ${id}: ${answer.status} ${await answer.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}
