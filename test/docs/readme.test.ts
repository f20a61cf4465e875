import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseChart } from '../../src/chart/load.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import { createRegistry } from '../../src/handlers/registry.js';

// The chart examples of the README and of the charts reference must load as written, so neither can rot.
describe.each([['README.md', 1], ['docs/charts.md', 2]])('the chart examples of %s', (file, least) => {
  it('load without problems', async () => {
    const text = await readFile(new URL(`../../${file}`, import.meta.url), 'utf8');
    const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
    // Chart examples are fenced as yaml; other YAML (a values file) as yml.
    expect(blocks.length).toBeGreaterThanOrEqual(least);
    const handlers = createRegistry(builtinHandlers());
    for (const [index, block] of blocks.entries()) {
      const chart = parseChart(block, `${file}-example-${index}.yaml`, { handlers });
      expect(Object.keys(chart.states).length).toBeGreaterThan(2);
    }
  });
});
