// The dashboard in a real headless Chromium: every view loads without a console error, an open instance page shows a
// change made by another client within a second, and each token sees only the buttons its scopes allow.

import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import type { Snapshot } from '../../src/engine/snapshot.js';
import { DASHBOARD_DIR } from '../../src/http/routes/dashboard.js';
import { instanceKey } from '../../src/runtime/runtime.js';
import { launchBrowser, type Browser, type Tab } from '../support/browser.js';
import { writeDashboardCharts } from '../support/dashboardCharts.js';
import { removeDir, startTestServer, tempDir, type TestServer } from '../support/server.js';
import { startTakingZone, type TakingZone } from '../support/takingZone.js';

const tokens = { ops: newToken(), reader: newToken(), fleet: newToken() };
const RESULTS_TOKEN = newToken();
const ZONE_TOKEN = newToken();

let dir: string;
let server: TestServer;
let zone: TakingZone;
let browser: Browser;
let requestId: string;

beforeAll(async () => {
  dir = await tempDir('chartd-dashboard-');
  const charts = await writeDashboardCharts(dir);
  zone = await startTakingZone();
  process.env['CHARTD_UI_TEST_ZONE'] = ZONE_TOKEN;
  process.env['CHARTD_UI_TEST_RESULTS'] = RESULTS_TOKEN;
  const backupConfig = await zone.writeConfig(dir, { zoneToken: 'CHARTD_UI_TEST_ZONE', resultsToken: 'CHARTD_UI_TEST_RESULTS' });
  await writeFile(join(dir, 'auth.yaml'), `reads: token
tokens:
  ops: { hash: '${hashOf(tokens.ops)}', scopes: [admin] }
  reader: { hash: '${hashOf(tokens.reader)}', scopes: [read] }
  fleet: { hash: '${hashOf(tokens.fleet)}', scopes: [read, { write: [gated] }], callers: ['web*'] }
`);
  [server, browser] = await Promise.all([
    startTestServer({ chartDir: charts, dataDir: join(dir, 'data'), authFile: join(dir, 'auth.yaml'), backupConfig }),
    launchBrowser(),
  ]);
  const { runtime } = server.engine;
  for (const id of ['g1', 'g2', 'g3']) await runtime.create('gated', id, {});
  await runtime.create('watchdog', 'w1', {});
  // A backup request that succeeded, with its backup recorded.
  const received = await call('POST', '/backup-requests', tokens.ops, { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-21' });
  expect(received.status).toBe(202);
  requestId = ((await received.json()) as { id: string }).id;
  await reach('backup-request', requestId, (s) => s.state === 'Sent');
  const delivered = await call('POST', '/zone-results', RESULTS_TOKEN, {
    requestId, zone: 'east', ok: true, file: 'long_term/acme/sales/2026-11-21.tar.gz.gpg', size: 123_456, sha256: 'ab'.repeat(32),
    failures: [], startedAt: '2026-11-21T01:00:00.000Z', finishedAt: '2026-11-21T01:05:00.000Z',
  });
  expect(delivered.status).toBe(202);
  await reach('backup-request', requestId, (s) => s.state === 'Succeeded');
  await reach('watchdog', 'w1', (s) => s.state === 'late');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await zone?.close();
  await removeDir(dir);
});

function call(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function reach(chart: string, id: string, test: (snapshot: Snapshot) => boolean): Promise<void> {
  const { runtime } = server.engine;
  if (test((await runtime.snapshot(chart, id)))) return;
  const reached = await runtime.waiters.wait(instanceKey(chart, id), test, 10_000);
  if (!reached) throw new Error(`${chart}/${id} did not get there: ${JSON.stringify((await runtime.snapshot(chart, id)))}`);
}

/** Opens `path` in a tab and waits for `ready` to show; returns the tab. */
async function visit(path: string, ready: string, options: { token?: string; width?: number } = {}): Promise<Tab> {
  const tab = await browser.open(options);
  await tab.page.goto(`${server.url}${path}`);
  await tab.page.locator(ready).first().waitFor({ timeout: 5000 });
  return tab;
}

/** The buttons in the page's content that change something (the header's sign-out and the refresh buttons do not). */
/** The newest transition in the history of instance `id` of chart gated. */
async function lastMove(id: string) {
  const { runtime } = server.engine;
  return (await runtime.history(await runtime.snapshot('gated', id))).at(-1);
}

function actionButtons(tab: Tab) {
  return tab.page.locator('main button:not(:text-is("Refresh"))');
}

describe('signing in', () => {
  it('shows nothing but a sign-in prompt without a token, and the overview once a token is given', async () => {
    const tab = await visit('/ui/charts/gated', 'h1:text-is("Sign in")');
    expect(await tab.page.locator('main table').count()).toBe(0);
    expect(await tab.page.locator('nav a').count()).toBe(0);
    await tab.screenshot('sign-in');
    await tab.page.getByLabel('Token').fill(tokens.reader);
    await tab.page.getByRole('button', { name: 'Sign in' }).click();
    // A shared link survives signing in: the view it named opens.
    await tab.page.locator('h1:text-is("gated")').waitFor({ timeout: 5000 });
    await tab.page.locator('text=Signed in as').waitFor();
    expect(await tab.page.evaluate('sessionStorage.getItem("chartd.token")')).toBe(tokens.reader);
    expect(tab.errors).toEqual([]);
    await tab.close();
  });
});

describe('every view', () => {
  const views = (): [string, string, string][] => [
    ['overview', '/ui/', 'td >> text=late'],
    ['chart', '/ui/charts/gated', '.diagram svg g.count'],
    ['chart-filtered', '/ui/charts/gated?status=active&order=changed', 'th a:text-is("g1")'],
    ['instance', '/ui/charts/gated/instances/g1', '.diagram svg'],
    ['instance-failed', '/ui/charts/watchdog/instances/w1', '.failures li'],
    ['backup-requests', '/ui/backup-requests', `a:text-is("${requestId}")`],
    ['backup-request', `/ui/backup-requests/${requestId}`, '.diagram svg'],
    ['backups', '/ui/backups', 'td:text-is("nightly")'],
    ['not-found', '/ui/no/such/view', 'h1:text-is("Not found")'],
  ];

  it('loads with no console error and is saved as a screenshot', async () => {
    for (const [name, path, ready] of views()) {
      const tab = await visit(path, ready, { token: tokens.ops }).catch(async (error: Error) => {
        throw new Error(`${name}: ${path}: ${error.message}`);
      });
      await tab.screenshot(name);
      expect(tab.errors, `${name}: ${path}`).toEqual([]);
      await tab.close();
    }
  });

  it('overview: is interactive within a second on loopback, from script and stylesheet under 100 KB', async () => {
    const [script, style] = await Promise.all(['app.js', 'style.css'].map((name) => stat(join(DASHBOARD_DIR, 'assets', name))));
    expect(script!.size + style!.size).toBeLessThan(100 * 1024);
    const tab = await browser.open({ token: tokens.ops });
    await tab.page.goto(`${server.url}/ui/`);
    await tab.page.locator('a:text-is("gated")').first().waitFor({ timeout: 5000 });
    // Milliseconds since the navigation began, read in the page once its charts are listed.
    expect(await tab.page.evaluate<number>('performance.now()')).toBeLessThan(1000);
    await tab.page.locator('a:text-is("gated")').first().click();
    await tab.page.locator('h1:text-is("gated")').waitFor({ timeout: 1000 });
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it('overview: lists the instance that timed out, with the node and message, the services and the backup controller', async () => {
    const tab = await visit('/ui/', 'td >> text=late', { token: tokens.ops });
    const row = tab.page.locator('tr', { has: tab.page.locator('a:text-is("watchdog/w1")') });
    await expect(row.textContent()).resolves.toMatch(/failed.*waiting: timed out/);
    const service = tab.page.locator('tr', { has: tab.page.locator('th:text-is("zone:east")') });
    await expect(service.textContent()).resolves.toMatch(/^zone:eastrunning.*none0$/);
    await tab.page.locator('h3:text-is("Backup controller")').waitFor();
    await expect(tab.page.locator('text=2026-11-21').first().isVisible()).resolves.toBe(true);
    await tab.close();
  });

  it('chart: filters and order go into the address, so the filtered list can be shared', async () => {
    const tab = await visit('/ui/charts/watchdog', 'th a:text-is("w1")', { token: tokens.reader });
    await tab.page.getByLabel('Status').selectOption('active');
    await tab.page.locator('text=No instances match.').waitFor({ timeout: 2000 });
    expect(new URL(tab.page.url()).search).toBe('?status=active');
    await tab.page.getByLabel('Status').selectOption('done');
    await tab.page.getByLabel('Order').selectOption('changed');
    await tab.page.locator('th a:text-is("w1")').waitFor({ timeout: 2000 });
    expect(new URL(tab.page.url()).search).toBe('?status=done&order=changed');
    // The newest change first: w1 timed out after the default instance did.
    expect(await tab.page.locator('tbody th a').allTextContents()).toEqual(['w1', 'default']);
    // Back and forward move between the lists, as between pages.
    await tab.page.goBack();
    // A function, not a string: the page's Content-Security-Policy refuses to evaluate strings.
    await tab.page.waitForFunction(() => {
      const page = globalThis as unknown as { location: { search: string }; document: { querySelector(selector: string): { textContent: string | null } | null } };
      return page.location.search === '?status=done' && page.document.querySelector('tbody th a')?.textContent === 'default';
    }, undefined, { timeout: 2000 });
    await tab.page.goBack();
    await tab.page.locator('text=No instances match.').waitFor({ timeout: 2000 });
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it('works at phone width without scrolling sideways', async () => {
    const tab = await visit('/ui/charts/gated/instances/g1', '.diagram svg', { token: tokens.ops, width: 390 });
    await tab.screenshot('instance-phone');
    expect(await tab.page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await tab.close();
  });

  it('can be used by keyboard: the first Tab reaches the skip link, which moves focus to the content', async () => {
    const tab = await visit('/ui/', 'a:text-is("gated")', { token: tokens.ops });
    await tab.page.keyboard.press('Tab');
    expect(await tab.page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await tab.page.keyboard.press('Enter');
    expect(await tab.page.evaluate('document.activeElement?.id')).toBe('main');
    await tab.close();
  });
});

describe('an open instance page', () => {
  it('shows check-ins and transitions made by another client within a second, without reloading', async () => {
    const tab = await visit('/ui/charts/gated/instances/g1', '.stream.live', { token: tokens.reader });
    await tab.page.evaluate('window.marker = true');
    const counted = await call('PUT', '/charts/gated/instances/g1/state?state=wait&by=web1', tokens.fleet);
    expect(counted.status).toBe(200);
    const afterCheckIn = Date.now();
    await tab.page.locator('dd', { hasText: '1 of 2 check-ins' }).waitFor({ timeout: 1000 });
    expect(Date.now() - afterCheckIn).toBeLessThan(1000);
    await expect(tab.page.locator('dd', { hasText: 'web1' }).count()).resolves.toBe(1);

    const opened = await call('PUT', '/charts/gated/instances/g1/state?state=wait&by=web2', tokens.fleet);
    expect(opened.status).toBe(200);
    const afterOpen = Date.now();
    await tab.page.locator('[data-state="verify"]').waitFor({ timeout: 1000 });
    expect(Date.now() - afterOpen).toBeLessThan(1000);
    await tab.page.locator('.timeline li', { hasText: 'by web2' }).waitFor({ timeout: 1000 });
    // The same document all along: no reload.
    expect(await tab.page.evaluate('window.marker')).toBe(true);
    expect(tab.errors).toEqual([]);
    await tab.close();
  });
});

describe('buttons', () => {
  it('check in and send events for a token that may write to the chart, as a caller it may name', async () => {
    const tab = await visit('/ui/charts/gated/instances/g2', 'button:text-is("Check in at wait")', { token: tokens.fleet });
    await expect(tab.page.locator('button:text-is("Send abort")').count()).resolves.toBe(1);
    await tab.page.getByLabel('Caller (by=)').fill('web3');
    await tab.page.locator('button:text-is("Check in at wait")').click();
    await tab.page.locator('dd', { hasText: '1 of 2 check-ins' }).waitFor({ timeout: 2000 });
    expect((await server.engine.runtime.snapshot('gated', 'g2'))).toMatchObject({ counter: 1, callers: ['web3'] });
    await tab.screenshot('instance-actions');

    await tab.page.locator('button:text-is("Send abort")').click();
    await tab.page.locator('[data-state="aborted"]').waitFor({ timeout: 2000 });
    expect(await lastMove('g2')).toMatchObject({ cause: 'event:abort', caller: 'web3', token: 'fleet' });
    // A finished instance offers only its life cycle: start over, delete.
    await expect(actionButtons(tab).allTextContents()).resolves.toEqual(['Start over', 'Delete…']);
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it('are not shown where the token may not write: another chart, or a chart a service drives', async () => {
    const light = await visit('/ui/charts/traffic-light/instances/default', '.diagram svg', { token: tokens.fleet });
    await expect(actionButtons(light).count()).resolves.toBe(0);
    await light.close();
    const request = await visit(`/ui/charts/backup-request/instances/${requestId}`, '.diagram svg', { token: tokens.ops });
    await expect(actionButtons(request).count()).resolves.toBe(0);
    await request.close();
  });

  it('are never shown to a read-only token', async () => {
    for (const [path, ready] of [['/ui/charts/gated/instances/g3', '.stream.live'], ['/ui/charts/gated', 'th a:text-is("g3")'], ['/ui/', 'a:text-is("gated")']] as const) {
      const tab = await visit(path, ready, { token: tokens.reader });
      await expect(actionButtons(tab).count(), path).resolves.toBe(0);
      await tab.close();
    }
    // The same page offers them to a token that may write.
    const writer = await visit('/ui/charts/gated/instances/g3', 'button:text-is("Check in at wait")', { token: tokens.ops });
    await expect(actionButtons(writer).allTextContents()).resolves.toEqual(['Check in at wait', 'Send abort', 'Cancel']);
    await writer.close();
  });

  it('cancel with a reason, start over, and delete after a confirmation, for a token that may write', async () => {
    await server.engine.runtime.create('gated', 'g4', {});
    const tab = await visit('/ui/charts/gated/instances/g4', 'button:text-is("Cancel")', { token: tokens.fleet });
    await tab.page.getByLabel('Reason (recorded in the history)').fill('wrong release');
    await tab.page.locator('button:text-is("Cancel")').click();
    await tab.page.locator('.now .badge.cancelled').waitFor({ timeout: 2000 });
    await tab.page.locator('.timeline li', { hasText: '“wrong release”' }).waitFor({ timeout: 2000 });
    expect((await server.engine.runtime.snapshot('gated', 'g4'))).toMatchObject({ status: 'cancelled', cancelled: { reason: 'wrong release', token: 'fleet' } });
    await expect(actionButtons(tab).allTextContents()).resolves.toEqual(['Start over', 'Delete…']);
    await tab.screenshot('instance-cancelled');

    await tab.page.locator('button:text-is("Start over")').click();
    await tab.page.locator('.now .badge.active').waitFor({ timeout: 2000 });
    expect(await lastMove('g4')).toMatchObject({ cause: 'restart', token: 'fleet' });
    await tab.page.locator('button:text-is("Cancel")').click();
    await tab.page.locator('.now .badge.cancelled').waitFor({ timeout: 2000 });

    // Delete asks first; keeping it changes nothing.
    await tab.page.locator('button:text-is("Delete…")').click();
    await tab.page.getByRole('alertdialog').waitFor({ timeout: 2000 });
    await tab.screenshot('instance-delete-confirm');
    await tab.page.locator('button:text-is("Keep it")').click();
    await expect(tab.page.getByRole('alertdialog').count()).resolves.toBe(0);
    expect((await server.engine.runtime.find('gated', 'g4'))).toBeDefined();
    await tab.page.locator('button:text-is("Delete…")').click();
    await tab.page.locator('button:text-is("Delete g4")').click();
    await tab.page.locator('h1:text-is("gated")').waitFor({ timeout: 2000 });
    expect((await server.engine.runtime.find('gated', 'g4'))).toBeUndefined();
    expect(tab.errors).toEqual([]);
    await tab.close();
  });
});
