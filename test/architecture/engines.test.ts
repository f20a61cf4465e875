// Every installed dependency, development ones included, supports the oldest Node the package says it runs on,
// so `npm install` never warns EBADENGINE on a Node the README names.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Locked {
  readonly engines?: { readonly node?: string };
  readonly optional?: boolean;
}

describe('engines', () => {
  it('the oldest Node in package.json satisfies every installed package\'s engines.node', async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const oldest = semver.minVersion(manifest.engines.node)!.version;
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Locked> };
    const refused: string[] = [];
    for (const [path, locked] of Object.entries(lock.packages)) {
      const range = locked.engines?.node;
      if (path === '' || range === undefined || semver.satisfies(oldest, range)) continue;
      // npm installs a platform's optional bindings only on that platform; one not on disk was never installed.
      if (locked.optional && !(await stat(join(ROOT, path)).catch(() => undefined))) continue;
      refused.push(`${path.replace(/^node_modules\//, '')} wants node ${range}`);
    }
    expect(refused, `package.json says node ${manifest.engines.node} (${oldest} at the oldest)`).toEqual([]);
  });
});
