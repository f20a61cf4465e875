// How fast chart tests run: every scenario of the bundled charts' *.test.yaml, round after round, on the pure
// engine with a simulated clock (no I/O). Run after `npm run build`; prints scenarios per second.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chartLoadOptions, handlerRegistry } from '../dist/main.js';
import { runScenario } from '../dist/simulation/runScenario.js';
import { loadScenarioFile } from '../dist/simulation/scenario.js';

const CHARTS = fileURLToPath(new URL('../charts/', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);

const handlers = handlerRegistry();
const files = (await readdir(CHARTS)).filter((name) => name.endsWith('.test.yaml')).sort();
const tests = await Promise.all(files.map((name) => loadScenarioFile(join(CHARTS, name), chartLoadOptions(handlers))));
const perRound = tests.reduce((sum, file) => sum + file.scenarios.length, 0);

const times = [];
for (let round = 0; round < ROUNDS; round++) {
  const started = performance.now();
  for (const file of tests) {
    for (const scenario of file.scenarios) {
      if (!runScenario(file, scenario, handlers).passed) throw new Error(`${file.file}: ${scenario.name} failed`);
    }
  }
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
const median = times[times.length >> 1];
process.stdout.write(`${perRound} scenarios from ${files.length} files (${files.join(', ')}): median ${median.toFixed(1)} ms a round `
  + `(fastest ${times[0].toFixed(1)} ms, slowest ${times.at(-1).toFixed(1)} ms, ${ROUNDS} rounds), ${Math.round(perRound / (median / 1000)).toLocaleString('en-US')} scenarios/s\n`);
