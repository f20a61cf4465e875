// Builds the dashboard into dist/ui: one script and one stylesheet (esbuild, minified), and the page that loads them.

import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { build } from 'esbuild';

/** What the page may weigh, script and stylesheet together, before gzip. */
const BUDGET_BYTES = 100 * 1024;
const out = new URL('../dist/ui/', import.meta.url);
const source = new URL('./', import.meta.url);

await rm(out, { recursive: true, force: true });
await mkdir(new URL('assets/', out), { recursive: true });
await build({
  entryPoints: { app: new URL('src/main.tsx', source).pathname, style: new URL('src/app.css', source).pathname },
  outdir: new URL('assets/', out).pathname,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  logLevel: 'warning',
});
await copyFile(new URL('index.html', source), new URL('index.html', out));

const sizes = await Promise.all(['app.js', 'style.css'].map(async (name) => (await stat(new URL(`assets/${name}`, out))).size));
const total = sizes.reduce((sum, size) => sum + size, 0);
if (total > BUDGET_BYTES) {
  console.error(`dashboard: script and stylesheet weigh ${total} bytes, over the budget of ${BUDGET_BYTES}`);
  process.exit(1);
}
