// What the side-by-side benchmarks (auth.mjs, metrics.mjs) share: a figure's summary over rounds and the report file.
import { writeFile } from 'node:fs/promises';
import { describeMachine } from './machine.mjs';
import { median } from './stats.mjs';

/** The median round's req/s, CPU per request and p50, with the rounds kept for paired ratios. */
export function summarize(rounds) {
  return { rps: median(rounds.map((r) => r.rps)), cpuUs: median(rounds.map((r) => r.cpuUs)), p50: median(rounds.map((r) => r.p50)), rounds };
}

/** Writes `# title`, the lines saying how it was measured, the machine (its data under `dir`) and the table; prints it too. */
export async function writeComparison(file, { title, lines, dir, table }) {
  const report = [
    `# ${title}`,
    '',
    ...lines,
    `Machine: ${Object.entries(describeMachine(dir)).map(([key, value]) => `${key} ${value}`).join('; ')}.`,
    '',
    ...table,
    '',
  ].join('\n');
  await writeFile(file, report);
  process.stdout.write(`${report}\nwritten to ${file}\n`);
}
