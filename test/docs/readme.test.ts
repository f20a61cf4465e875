import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseChart } from '../../src/chart/load.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import { createRegistry } from '../../src/handlers/registry.js';

// The README's chart examples must load as written, so the format reference cannot rot.
describe('README chart examples', () => {
  it('load without problems', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
    // Chart examples are fenced as yaml; other YAML (a values file) as yml.
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    const handlers = createRegistry(builtinHandlers());
    for (const [index, block] of blocks.entries()) {
      const chart = parseChart(block, `README-example-${index}.yaml`, { handlers });
      expect(Object.keys(chart.states).length).toBeGreaterThan(2);
    }
  });
});
