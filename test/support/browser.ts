// A real headless Chromium (Debian's chromium package, driven by playwright-core; no browser is downloaded) for page tests.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Where a test run's screenshots go (gitignored). */
export const SCREENSHOTS = new URL('../../test-results/dashboard/', import.meta.url).pathname;

// Without the background-networking flags Chromium calls out to Google's services, which a closed network refuses.
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

export interface Browser {
  /** A new tab; with `token`, signed in as it (the token is put where the sign-in form keeps it). */
  open(options?: { token?: string; width?: number; height?: number }): Promise<Tab>;
  close(): Promise<void>;
}

export interface Tab {
  readonly page: Page;
  /** Console errors and uncaught exceptions seen so far in this tab. */
  readonly errors: string[];
  /** Saves a full-page screenshot as SCREENSHOTS/NAME.png. */
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (bash .ci/deps.sh does)`);
  const profile = await mkdtemp(join(tmpdir(), 'chartd-chromium-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 }, timeout: 30_000,
  });
  return {
    async open(options = {}) {
      const page = await context.newPage();
      if (options.width) await page.setViewportSize({ width: options.width, height: options.height ?? 900 });
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
      });
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
      if (options.token) await page.addInitScript({ content: `sessionStorage.setItem('chartd.token', ${JSON.stringify(options.token)})` });
      return {
        page, errors,
        screenshot: async (name) => {
          await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
        },
        close: () => page.close(),
      };
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
