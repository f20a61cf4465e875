// The web dashboard's files at /ui/: built into dist/ui by `npm run build`, read once, served from memory.

import { readdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Context } from 'koa';
import { NotFound } from '../../errors.js';
import { OPEN, type GuardedRoutes } from '../guard.js';

/** Where the build puts the dashboard, from this module in src/http/routes or dist/http/routes alike. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// The page runs only its own script, talks only to this server and may not be framed (its buttons change state).
const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface Asset {
  readonly body: Buffer;
  readonly gzipped: Buffer;
  readonly type: string;
  readonly etag: string;
}

export function dashboardRoutes(routes: GuardedRoutes, dir = DASHBOARD_DIR): void {
  let loaded: Promise<Map<string, Asset>> | undefined;
  // A failed read (not built yet) is not kept, so a build made while the server runs is picked up.
  const assets = (): Promise<Map<string, Asset>> => (loaded ??= loadAssets(dir).catch((error: unknown) => {
    loaded = undefined;
    throw error;
  }));
  // The files hold no data: every figure comes from the JSON routes, which check the token the page sends.
  routes.get('/ui/assets/:file', OPEN, async (ctx) => {
    send(ctx, (await assets()).get(`assets/${ctx.params['file']!}`));
  });
  // Every other path under /ui/ is a view of the one page, so a shared link opens where it points.
  routes.get('/ui{/*view}', OPEN, async (ctx) => {
    if (ctx.path === '/ui') return ctx.redirect('/ui/');
    send(ctx, (await assets()).get('index.html'));
  });
}

function send(ctx: Context, asset: Asset | undefined): void {
  if (!asset) throw new NotFound(`no dashboard file ${ctx.path}`);
  ctx.set(PAGE_HEADERS);
  // Names do not change from build to build: the browser asks again each time and gets 304 while the file is the same.
  ctx.set('cache-control', 'no-cache');
  ctx.set('etag', asset.etag);
  ctx.set('vary', 'accept-encoding');
  ctx.type = asset.type;
  // Koa judges freshness only for a 2xx answer.
  ctx.status = 200;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  const gzip = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
  if (gzip) ctx.set('content-encoding', 'gzip');
  ctx.body = gzip ? asset.gzipped : asset.body;
}

async function loadAssets(dir: string): Promise<Map<string, Asset>> {
  const names = await readdir(join(dir, 'assets')).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
    throw new NotFound(`the dashboard is not built in this copy of chartd (${dir} is missing): run npm run build`);
  });
  const assets = new Map<string, Asset>();
  for (const name of ['index.html', ...names.map((each) => `assets/${each}`)]) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = await readFile(join(dir, name));
    assets.set(name, { body, gzipped: gzipSync(body), type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}
