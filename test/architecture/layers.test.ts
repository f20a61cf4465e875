// The folders are the architecture: transports live in http/ and cli/, and the domain never reaches for them.

import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

async function sourcesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourcesUnder(path);
    return Promise.resolve(entry.name.endsWith('.ts') ? [path] : []);
  }));
  return nested.flat();
}

/** Every module specifier a file imports, statically or with import(). */
async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\(\s*|^import\s+)['"]([^'"]+)['"]/gm)].map((match) => match[1]!);
}

describe('layers', () => {
  it('keeps the backup domain free of HTTP transports: no Koa, no router, nothing from src/http', async () => {
    const offenders: string[] = [];
    for (const file of await sourcesUnder(join(SRC, 'backup'))) {
      for (const specifier of await importsOf(file)) {
        if (/^(koa|@koa\/)/.test(specifier) || /(^|\/)http\//.test(specifier)) offenders.push(`${relative(SRC, file)} imports ${specifier}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('splits the backup domain into the controller and the zone, which share only backup/ itself', async () => {
    const offenders: string[] = [];
    for (const [side, other] of [['controller', 'zone'], ['zone', 'controller']] as const) {
      for (const file of await sourcesUnder(join(SRC, 'backup', side))) {
        for (const specifier of await importsOf(file)) {
          if (specifier.includes(`/${other}/`)) offenders.push(`${relative(SRC, file)} imports ${specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('keeps the domain free of metrics: the engine, runtime, store and backup services give hooks, src/metrics turns them into metrics', async () => {
    const offenders: string[] = [];
    for (const folder of ['engine', 'chart', 'runtime', 'store', 'backup', 'handlers']) {
      for (const file of await sourcesUnder(join(SRC, folder))) {
        for (const specifier of await importsOf(file)) {
          if (specifier === 'prom-client' || /(^|\/)metrics\//.test(specifier)) offenders.push(`${relative(SRC, file)} imports ${specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
