import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { tempDir } from '../support/temp-dir.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it when absent). */
export const CHROMIUM = process.env.COFFER_CHROMIUM ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ConsoleBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Headless Chromium on a fresh profile directory (Playwright takes the profile as the persistent
 * context's directory rather than as `--user-data-dir`), removed on close.
 */
export async function launchConsoleBrowser(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<ConsoleBrowser> {
  const profile = tempDir('coffer-chromium-');
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1280, height: 860 },
    locale: 'en-GB',
    timezoneId: 'UTC',
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(10_000);
  return {
    context,
    async close() {
      await context.close();
      profile.remove();
    },
  };
}

const requireFromHere = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(requireFromHere.resolve('axe-core/axe.min.js'), 'utf8');

/** Evaluates a JavaScript expression in the page (awaiting a promise) and returns its value. */
export function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly string[] }[];
}

/**
 * axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA rules
 * and best practices). axe is evaluated through the DevTools protocol: a <script> tag would be
 * refused by the console's own CSP, which is what we want to keep.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  // A string: it runs in the page, whose DOM types the Node-side compilation does not have.
  const violations = await inPage<AxeViolation[]>(
    page,
    `axe.run(document).then((r) => r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })),
    })))`,
  );
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export function describeViolations(violations: readonly AxeViolation[]): string {
  return violations
    .map(
      (v) => `${v.impact ?? '?'} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    )
    .join('\n');
}

const DOCS_SCREENSHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));

/**
 * Screenshots of the main screens. They are always taken (a screen that cannot render fails here);
 * they are written to docs/screenshots/ only with COFFER_UPDATE_SCREENSHOTS=1, so an ordinary test
 * run does not rewrite committed images with new timestamps.
 */
export async function screenshot(
  page: Page,
  name: string,
  options: { fullPage?: boolean } = {},
): Promise<void> {
  const png = await page.screenshot({ fullPage: options.fullPage ?? true });
  if (process.env.COFFER_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    writeFileSync(join(DOCS_SCREENSHOTS, `${name}.png`), png);
  }
}
