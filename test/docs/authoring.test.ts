// docs/authoring.md as a reader follows it: each chart version validates, the tests pass, and the output shown is chartd's.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isScenarioFile, parseChart } from '../../src/chart/load.js';
import { chartLoadOptions, handlerRegistry } from '../../src/main.js';
import { runScenario } from '../../src/simulation/runScenario.js';
import { loadScenarioFile } from '../../src/simulation/scenario.js';
import { CLI } from '../support/child.js';

const run = promisify(execFile);

/** The guide's tested blocks in order: files it has the reader write, and the output a command prints. */
type Block = { readonly kind: 'file' | 'output'; readonly what: string; readonly text: string };

/** "chartd test a.yaml --fail x=\"a b\"" -> ["test", "a.yaml", "--fail", "x=a b"]: words as a shell splits them. */
function words(command: string): string[] {
  const found: string[] = [];
  for (const match of command.matchAll(/(?:[^\s"]+|"[^"]*")+/g)) found.push(match[0].replaceAll('"', ''));
  return found.slice(1);
}

let dir: string;
let blocks: Block[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chartd-guide-'));
  const guide = await readFile('docs/authoring.md', 'utf8');
  blocks = [...guide.matchAll(/<!-- (file|output): (.+?) -->\n```\w*\n([\s\S]*?)```/g)].map((match) => ({ kind: match[1] as Block['kind'], what: match[2]!, text: match[3]! }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('docs/authoring.md', () => {
  it('holds chart versions, their tests and the output of chartd as it is', async () => {
    expect(blocks.map((block) => `${block.kind} ${block.what.split(' ').slice(0, 2).join(' ')}`)).toEqual([
      'file archive-logs.yaml', 'file archive-logs.yaml', 'output chartd simulate', 'file archive-logs.test.yaml', 'file typo.test.yaml', 'output chartd test',
    ]);
    const handlers = handlerRegistry();
    for (const block of blocks) {
      if (block.kind === 'file') {
        await writeFile(join(dir, block.what), block.text);
        if (!isScenarioFile(block.what)) parseChart(block.text, block.what, chartLoadOptions(handlers));
        continue;
      }
      const printed = await run(process.execPath, [CLI, ...words(block.what)], { cwd: dir }).catch((error: { stdout: string }) => error);
      expect(printed.stdout, block.what).toContain(block.text);
    }
    const tests = await loadScenarioFile(join(dir, 'archive-logs.test.yaml'), chartLoadOptions(handlers));
    const results = tests.scenarios.map((scenario) => runScenario(tests, scenario, handlers));
    expect(results.filter((result) => !result.passed)).toEqual([]);
    expect(results).toHaveLength(5);
  });
});
