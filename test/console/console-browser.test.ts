import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { DATABASE_FILE } from '../../src/composition/runtime.js';
import { ADMIN_PERMISSION, CANONICAL_PERMISSIONS } from '../../src/core/permissions.js';
import { CONSOLE_CSP } from '../../src/http/console/console-routes.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  type ConsoleBrowser,
  describeViolations,
  inPage,
  launchConsoleBrowser,
  screenshot,
  seriousViolations,
} from './browser-harness.js';

/** How many pixels the page is wider than the window (> 0: it scrolls sideways). */
const OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';

/** Events per audit page the console asks for (`limit`, PAGE_SIZE in ui/src/audit-screen.tsx). */
const AUDIT_PAGE = 25;

/** The fields of `GET /api/{tenant}/audit`'s answer these steps read. */
interface AuditPageBody {
  readonly events: readonly {
    readonly chainId: string;
    readonly seq: number;
    readonly actor: string;
    readonly action: string;
    readonly outcome: string;
    readonly reason: string | null;
    readonly requestId: string;
    readonly prevHash: string;
    readonly hash: string;
  }[];
  readonly nextCursor: string | null;
}

/**
 * The console end to end: a real Coffer, Debian's Chromium driven by playwright-core, one browser
 * and one page for the whole file, the steps in order (each builds on the one before).
 */
describe('web console in Chromium', () => {
  let server: TestServer;
  let browser: ConsoleBrowser;
  let page: Page;
  const requested: string[] = [];
  const cspReports: string[] = [];
  const pageErrors: string[] = [];
  const value = `s3cret-${randomBytes(8).toString('hex')}`;
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
  const yesterday = new Date(Date.now() - 86_400_000).toISOString();
  const lastWeek = new Date(Date.now() - 7 * 86_400_000).toISOString();

  const api = (method: string, path: string, body?: unknown) =>
    request(server.url, method, path, { token: server.adminToken, ...(body === undefined ? {} : { body }) });

  async function assertAccessible(screen: string) {
    const violations = await seriousViolations(page);
    assert.deepEqual(violations, [], `${screen}:\n${describeViolations(violations)}`);
  }

  async function signIn(token: string, options: { stay?: boolean } = {}) {
    await page.getByLabel('Tenant id').fill('default');
    await page.getByLabel('Token').fill(token);
    if (options.stay === true) await page.getByLabel(/Stay signed in/).check();
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  before(async () => {
    // SQLite whatever COFFER_TEST_ENGINE says: the audit steps edit the database file itself.
    server = await startTestServer({ engine: 'sqlite' });
    // Enough stores for two pages (the console shows 20 a page), and a store holding secrets whose
    // validity windows put them out of reach now.
    for (let i = 0; i < 22; i++) {
      assert.equal(
        (await api('POST', '/v1/tenants/default/stores', { name: `team-${String(i).padStart(2, '0')}` }))
          .status,
        201,
      );
    }
    assert.equal((await api('POST', '/v1/tenants/default/stores', { name: 'windows' })).status, 201);
    const put = (name: string, body: unknown) =>
      api('PUT', `/v1/tenants/default/stores/windows/secrets/${name}`, body);
    assert.equal(
      (await put('old-token', { value: 'expired-value', notBefore: lastWeek, expiresOn: yesterday })).status,
      201,
    );
    assert.equal((await put('future-token', { value: 'future-value', notBefore: tomorrow })).status, 201);
    assert.equal((await put('live-token', { value: 'live-value', description: 'in use' })).status, 201);

    browser = await launchConsoleBrowser();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    page = await browser.context.newPage();
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) cspReports.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('serves the sign-in screen under the strict CSP; a wrong token is refused in words', async () => {
    const response = await page.goto(`${server.url}/ui/`);
    assert.equal(response?.status(), 200);
    assert.equal(await response?.headerValue('content-security-policy'), CONSOLE_CSP);
    await page.getByRole('heading', { level: 1, name: 'Sign in to Coffer' }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await signIn('coffer_not-a-real-token');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /token was not accepted/);
    await assertAccessible('sign-in');
    await screenshot(page, 'sign-in');
  });

  it('signs in; the token is in no URL and in no storage; stores are paged and searchable', async () => {
    await signIn(server.adminToken);
    await page.getByRole('heading', { level: 1, name: 'Stores' }).waitFor();
    const table = page.getByRole('table');
    await table.getByRole('link', { name: 'team-00' }).waitFor();
    assert.equal(await table.getByRole('row').count(), 21, 'a header row and 20 stores');
    assert.equal(await inPage(page, 'localStorage.length'), 0);
    assert.equal(await inPage(page, 'sessionStorage.length'), 0, 'not kept unless asked');
    await assertAccessible('stores');
    await screenshot(page, 'stores');

    await page.getByRole('button', { name: 'Next page' }).click();
    await table.getByRole('link', { name: 'windows' }).waitFor();
    assert.equal(await page.getByText('Page 2').count(), 1);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await table.getByRole('link', { name: 'team-00' }).waitFor();

    // team-1x are on the first page too: wait for the search's own answer.
    await page.getByLabel('Name starts with').fill('team-1');
    const searched = page.waitForResponse((r) => new URL(r.url()).searchParams.get('prefix') === 'team-1');
    await page.getByRole('button', { name: 'Search' }).click();
    await searched;
    await table.getByRole('link', { name: 'team-00' }).waitFor({ state: 'detached' });
    assert.equal(await table.getByRole('link').count(), 10);
    await page.getByLabel('Name starts with').fill('nothing-like-this');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No store name starts with').waitFor();
  });

  it('creates a store and a secret; the value is in the DOM only after Reveal, and can be copied', async () => {
    await page.getByLabel('Store name').fill('web-production');
    await page.getByRole('button', { name: 'Create store' }).click();
    await page.getByRole('status').getByText('Store web-production created.').waitFor();
    await page.getByLabel('Name starts with').fill('web');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'web-production' }).click();
    await page.getByRole('heading', { level: 1, name: 'Store web-production' }).waitFor();
    assert.match(page.url(), /\/ui\/stores\/[0-9a-f]{32}$/);

    await page.getByRole('button', { name: 'Add a secret' }).click();
    await page.getByLabel('Name', { exact: true }).fill('DATABASE_URL');
    await page.getByLabel('Value', { exact: true }).fill(value);
    await page.getByLabel('Description').first().fill('primary database');
    await page.getByRole('button', { name: 'Create secret' }).click();
    await page.getByRole('heading', { level: 2, name: 'Secret DATABASE_URL' }).waitFor();
    await page.getByRole('table').getByRole('button', { name: 'DATABASE_URL' }).waitFor();

    // Written, listed, opened: the value is still nowhere in the page.
    assert.ok(!(await page.content()).includes(value), 'the value is not in the DOM before Reveal');
    await assertAccessible('store with secret details');

    await page.getByRole('button', { name: 'Reveal' }).click();
    const shown = page.getByTestId('revealed-value');
    await shown.waitFor();
    assert.equal(await shown.innerText(), value);
    await page.getByRole('button', { name: 'Copy value' }).click();
    await page.getByText('Copied.').waitFor();
    assert.equal(await inPage(page, 'navigator.clipboard.readText()'), value);
    await screenshot(page, 'secret-revealed');

    await page.getByRole('button', { name: 'Hide' }).click();
    await page.getByRole('button', { name: 'Reveal' }).waitFor();
    assert.ok(!(await page.content()).includes(value), 'hidden again: gone from the DOM');
  });

  it('marks expired and not-yet-valid secrets, and offers no Reveal for them', async () => {
    await page.getByRole('link', { name: 'Stores', exact: true }).first().click();
    await page.getByLabel('Name starts with').fill('windows');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'windows' }).click();
    const row = (name: string) =>
      page.getByRole('row').filter({ has: page.getByRole('button', { name, exact: true }) });
    await row('old-token').waitFor();
    assert.match(await row('old-token').innerText(), /Expired/);
    assert.match(await row('future-token').innerText(), /Not yet valid/);
    assert.match(await row('live-token').innerText(), /Valid/);
    await assertAccessible('secrets with validity marks');
    await screenshot(page, 'secrets');

    await page.getByRole('button', { name: 'old-token', exact: true }).click();
    await page.getByRole('heading', { name: 'Secret old-token' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Reveal' }).isDisabled(), true);
    assert.ok(!(await page.content()).includes('expired-value'));
  });

  it('edits metadata and the validity window, sets a new value, deletes after a keyboard-operable confirmation', async () => {
    await page.getByRole('button', { name: 'live-token', exact: true }).click();
    await page.getByRole('heading', { name: 'Secret live-token' }).waitFor();
    const details = page.locator('#secret-details');
    await details.getByLabel('Description').fill('rotated monthly');
    await details.getByLabel('Scopes').fill('workers, ci');
    await details.getByLabel('Expires on').fill('2099-12-31T23:30');
    await details.getByRole('button', { name: 'Save details' }).click();
    await page.getByText('Secret live-token: details saved.').waitFor();
    const stored = (await api('GET', '/v1/tenants/default/stores/windows/secrets/live-token')).json as {
      description: string;
      scopes: string[];
      expiresOn: string;
      version: number;
    };
    assert.equal(stored.description, 'rotated monthly');
    assert.deepEqual(stored.scopes, ['workers', 'ci']);
    assert.equal(stored.expiresOn, '2099-12-31T23:30:00.000Z');

    await details.getByLabel('New value').fill('live-value-2');
    await details.getByRole('button', { name: 'Save new value' }).click();
    await page.getByText('new value saved as version 2').waitFor();

    // The dialog: opened from the keyboard, focus starts on Cancel, Escape cancels.
    await details.getByRole('button', { name: 'Delete secret live-token' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Delete secret live-token?' });
    await dialog.waitFor();
    assert.equal(await inPage(page, 'document.activeElement?.textContent'), 'Cancel');
    await assertAccessible('confirm dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await inPage(page, 'document.activeElement?.textContent'), 'Delete secret live-token');
    assert.equal((await api('GET', '/v1/tenants/default/stores/windows/secrets/live-token')).status, 200);

    await details.getByRole('button', { name: 'Delete secret live-token' }).click();
    await dialog.waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByText('Secret live-token deleted.').waitFor();
    assert.equal((await api('GET', '/v1/tenants/default/stores/windows/secrets/live-token')).status, 404);
    await page.getByRole('button', { name: 'live-token', exact: true }).waitFor({ state: 'detached' });
  });

  it('API keys: permissions from the canonical set, the token shown once with a copy button, disable, delete', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    const offered = await page
      .locator('input[name="permission"]')
      .evaluateAll((inputs) => inputs.map((i) => (i as unknown as { value: string }).value));
    assert.deepEqual(offered, [...CANONICAL_PERMISSIONS, ADMIN_PERMISSION]);

    await page.getByLabel('Key name').fill('ci-reader');
    await page.getByRole('checkbox', { name: /secrets:reveal/ }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const token = await page.getByTestId('new-token').innerText();
    assert.match(token, /^\S{20,}$/);
    await page.getByRole('button', { name: 'Copy token' }).click();
    assert.equal(await inPage(page, 'navigator.clipboard.readText()'), token);
    const row = page.getByRole('row').filter({ hasText: 'ci-reader' });
    assert.match(await row.innerText(), /Enabled[\s\S]*secrets:read[\s\S]*secrets:reveal/);
    const keyRead = await request(server.url, 'GET', '/v1/tenants/default/stores/windows/secrets/old-token', {
      token,
    });
    assert.equal(keyRead.status, 200, 'the new key works');
    await assertAccessible('API keys with a new token');
    await screenshot(page, 'api-keys');

    await page.getByRole('button', { name: 'I have stored it, hide the token' }).click();
    assert.ok(!(await page.content()).includes(token), 'the token is gone once dismissed');

    await page.getByRole('button', { name: 'Disable key ci-reader' }).click();
    await page.getByText('Key ci-reader disabled.').waitFor();
    await row.getByText('Disabled').waitFor();
    const refused = await request(server.url, 'GET', '/v1/tenants/default/stores', { token });
    assert.equal(refused.status, 401, 'a disabled key stops working');
    const listed = (await api('GET', '/api/default/admin/apiKeys/ci-reader')).json as { enabled: boolean };
    assert.equal(listed.enabled, false);

    await page.getByLabel('Key name').fill('short-lived');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByTestId('new-token').waitFor();
    await page.getByRole('button', { name: 'Delete key short-lived' }).click();
    await page
      .getByRole('dialog', { name: 'Delete key short-lived?' })
      .getByRole('button', { name: 'Delete key' })
      .click();
    await page.getByText('Key short-lived deleted.').waitFor();
    assert.equal((await api('GET', '/api/default/admin/apiKeys/short-lived')).status, 404);
  });

  it('webhooks: created with the signing secret shown once, listed without it, with a delivery log', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    // Refused in words: a loopback receiver on a server that does not allow private destinations.
    await page.getByLabel('Receiver URL').fill('http://127.0.0.1:9/hook');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByText(/loopback, link-local, private or reserved/).waitFor();

    await page.getByLabel('Receiver URL').fill('https://hooks.example.com/coffer');
    await page.getByLabel('Stores (optional)').fill('windows');
    await page.getByRole('checkbox', { name: /store\.created/ }).check();
    await page.getByRole('button', { name: 'Create webhook' }).click();
    const secret = await page.getByTestId('new-webhook-secret').innerText();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    await page.getByRole('button', { name: 'Copy secret' }).click();
    assert.equal(await inPage(page, 'navigator.clipboard.readText()'), secret);
    const row = page.getByRole('row').filter({ hasText: 'hooks.example.com' });
    assert.match(await row.innerText(), /secret\.value-set[\s\S]*store\.created[\s\S]*windows/);
    await assertAccessible('Webhooks with a new secret');
    await screenshot(page, 'webhooks');
    await page.getByRole('button', { name: 'I have stored it, hide the secret' }).click();
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone once dismissed');
    const listed = await api('GET', '/v1/tenants/default/webhooks');
    assert.ok(!listed.text.includes(secret.slice('whsec_'.length)), 'the list never holds the secret');

    // A change to deliver: the log shows it (pending, or failed attempts: the host does not exist here).
    assert.equal(
      (await api('PUT', '/v1/tenants/default/stores/windows/secrets/hooked', { value: 'x' })).status,
      201,
    );
    await page.getByRole('button', { name: 'Delivery log of https://hooks.example.com/coffer' }).click();
    for (let i = 0; i < 100; i++) {
      if ((await page.getByTestId('delivery-log').count()) > 0) break;
      await page.getByRole('button', { name: 'Refresh' }).click();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(await page.getByTestId('delivery-log').innerText(), /secret\.value-set/);
    await assertAccessible('Webhook delivery log');

    await page.getByRole('button', { name: 'Delete webhook to https://hooks.example.com/coffer' }).click();
    await page
      .getByRole('dialog', { name: 'Delete this webhook?' })
      .getByRole('button', { name: 'Delete webhook' })
      .click();
    await page.getByText('Webhook to https://hooks.example.com/coffer deleted.').waitFor();
    const after = (await api('GET', '/v1/tenants/default/webhooks')).json as { items: unknown[] };
    assert.equal(after.items.length, 0);
    // Back where the next step starts.
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
  });

  it('explains a refusal in words (a key name already taken)', async () => {
    await page.getByLabel('Key name').fill('ci-reader');
    // Wait for the answer itself, so that a slow machine shows as slow, not as a missing alert.
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/admin/apiKeys') && r.request().method() === 'POST', {
        timeout: 30_000,
      }),
      page.getByRole('button', { name: 'Create key' }).click(),
    ]);
    assert.equal(answer.status(), 409);
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 30_000 });
    assert.match(await alert.innerText(), /conflicts|exists/i);
  });

  it('works at phone width: no sideways scrolling, still accessible', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.getByRole('link', { name: 'Stores', exact: true }).click();
    await page.getByRole('table').getByRole('link', { name: 'team-00' }).waitFor();
    const overflow = await inPage<number>(page, OVERFLOW);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
    await assertAccessible('stores at phone width');
    await screenshot(page, 'stores-phone', { fullPage: false });
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('row').filter({ hasText: 'ci-reader' }).waitFor();
    assert.ok((await inPage<number>(page, OVERFLOW)) <= 0);
    await assertAccessible('API keys at phone width');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('signs out and forgets the token; session storage keeps it for this tab only when asked', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Coffer' }).waitFor();
    await page.goto(`${server.url}/ui/`);
    await page.getByRole('heading', { name: 'Sign in to Coffer' }).waitFor();

    await signIn(server.adminToken, { stay: true });
    await page.getByRole('heading', { level: 1, name: 'Stores' }).waitFor();
    assert.equal(await inPage(page, 'sessionStorage.length'), 1);
    assert.equal(await inPage(page, 'localStorage.length'), 0);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Stores' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    assert.equal(await inPage(page, 'sessionStorage.length'), 0);
  });

  it('a key without a permission is told so; revoked while signed in, the console signs out saying why', async () => {
    const token = await server.createKey('default', 'soon-gone', ['secrets:read']);
    await signIn(token);
    await page.getByRole('table').getByRole('link', { name: 'team-00' }).waitFor();
    await page.getByLabel('Store name').fill('not-allowed');
    await page.getByRole('button', { name: 'Create store' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /does not have the permission/);

    assert.equal((await api('DELETE', '/api/default/admin/apiKeys/soon-gone')).status, 204);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByRole('heading', { name: 'Sign in to Coffer' }).waitFor();
    assert.match(await page.getByRole('status').first().innerText(), /signed out.*token was not accepted/s);
  });

  it('audit trail: the rows of what was just done, filterable, with the page links checked', async () => {
    await signIn(server.adminToken);
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/default/audit');
    await page.getByRole('link', { name: 'Audit trail' }).click();
    const first = (await (await answered).json()) as AuditPageBody;
    await page.getByRole('heading', { level: 1, name: 'Audit trail' }).waitFor();
    const table = page.getByRole('table');
    const rows = table.locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 25, 'a full first page: every call above was recorded');
    // The newest page holds the newest events of each of the tenant's chains (changes, reads), each
    // run consecutive: every link within a chain is checked, and holds.
    const chains = new Set(first.events.map((e) => e.chainId)).size;
    assert.ok(chains >= 2, 'events of several chains on one page');
    assert.match(
      await page.getByRole('region', { name: 'Chain verification' }).innerText(),
      new RegExp(`This page links correctly \\(${25 - chains} links checked\\)[\\s\\S]*coffer audit verify`),
    );
    await assertAccessible('audit trail');
    await screenshot(page, 'audit-trail');

    const filterBy = async (field: 'Action' | 'Actor', value: string) => {
      await page.getByRole('button', { name: 'Clear' }).click();
      await page.getByLabel(field).fill(value);
      const answered = page.waitForResponse((r) =>
        [...new URL(r.url()).searchParams.values()].includes(value),
      );
      await page.getByRole('button', { name: 'Apply filter' }).click();
      assert.equal((await answered).status(), 200);
      await table.locator(`td[data-label="${field}"]`).filter({ hasText: value }).first().waitFor();
      // Every row of the answer, none left from before (a string: it runs in the page).
      await page.waitForFunction(
        `[...document.querySelectorAll('td[data-label="${field}"]')].every((td) => td.textContent === ${JSON.stringify(value)})`,
      );
      return table.locator('tbody tr');
    };

    // The reveal of DATABASE_URL, and nothing but reveals.
    const reveals = await filterBy('Action', 'secret.reveal');
    assert.match(
      await reveals.filter({ hasText: 'DATABASE_URL' }).first().innerText(),
      /key:admin[\s\S]*Allowed/,
    );

    // Disabling ci-reader.
    const updates = await filterBy('Action', 'apikey.update');
    assert.match(await updates.filter({ hasText: 'ci-reader' }).first().innerText(), /Allowed/);

    // The store the read-only key was refused: a denied event, with its reason.
    const refused = await filterBy('Actor', 'key:soon-gone');
    assert.match(await refused.filter({ hasText: 'Denied' }).first().innerText(), /missing_permission/);
  });

  it('audit trail: filters become query parameters, pages follow the cursor, a broken link is shown', async () => {
    // Real events first: reveals by two keys (one page and a bit for the first), and a refusal.
    const start = new Date();
    const alice = await server.createKey('default', 'auditor-a', ['secrets:read', 'secrets:reveal']);
    const bob = await server.createKey('default', 'auditor-b', ['secrets:read', 'secrets:reveal']);
    assert.equal((await api('POST', '/v1/tenants/default/stores', { name: 'audited' })).status, 201);
    assert.equal(
      (await api('PUT', '/v1/tenants/default/stores/audited/secrets/API_TOKEN', { value: 'audited-value' }))
        .status,
      201,
    );
    const reveal = (token: string) =>
      request(server.url, 'GET', '/v1/tenants/default/stores/audited/secrets/API_TOKEN?reveal=true', {
        token,
      });
    for (let i = 0; i < AUDIT_PAGE + 2; i++) assert.equal((await reveal(alice)).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await reveal(bob)).status, 200);
    const refusedCall = await request(server.url, 'POST', '/v1/tenants/default/stores', {
      token: bob,
      body: { name: 'not-for-bob' },
    });
    assert.equal(refusedCall.status, 403);
    // The inputs take minutes (local time: the browser runs in UTC): a window around the events.
    const from = new Date(Math.floor(start.getTime() / 60_000) * 60_000);
    const until = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 120_000);
    const asInput = (d: Date) => d.toISOString().slice(0, 16);

    const table = page.getByRole('table');
    const chain = page.getByRole('region', { name: 'Chain verification' });
    const isAudit = (url: string) => new URL(url).pathname === '/api/default/audit';
    /** Types the filter, applies it; the request the console sent and the server's own answer. */
    const applyFilter = async (filter: { action: string; actor: string; from: string; until: string }) => {
      await page.getByLabel('Action').fill(filter.action);
      await page.getByLabel('Actor').fill(filter.actor);
      await page.getByLabel('From (local time)').fill(filter.from);
      await page.getByLabel('Until (local time)').fill(filter.until);
      // Earlier requests had other filters: wait for the one this filter makes.
      const matches = (url: string) =>
        isAudit(url) && new URL(url).searchParams.get('actor') === (filter.actor || null);
      const sent = page.waitForRequest((r) => matches(r.url()));
      const answered = page.waitForResponse((r) => matches(r.url()));
      await page.getByRole('button', { name: 'Apply filter' }).click();
      const query = new URL((await sent).url()).searchParams;
      const response = await answered;
      assert.equal(response.status(), 200);
      return { query, body: (await response.json()) as AuditPageBody };
    };
    /** The request ids the table shows are exactly those of the answer, in its order. */
    const shows = async (body: AuditPageBody) => {
      const ids = body.events.map((e) => e.requestId);
      const cells = table.locator('td[data-label="Request id"]');
      // Polled from here: the page's CSP forbids the eval that waitForFunction polls with.
      for (let tries = 1; ; tries++) {
        const seen = await cells.allInnerTexts();
        if (JSON.stringify(seen) === JSON.stringify(ids) || tries === 200) {
          assert.deepEqual(seen, ids);
          return;
        }
        await page.waitForTimeout(50);
      }
    };

    await page.getByRole('link', { name: 'Stores', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Stores' }).waitFor();
    await page.getByRole('link', { name: 'Audit trail' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit trail' }).waitFor();

    // Bob's reveals in the window: every filter is a query parameter, and the server applies them.
    const bobReveals = await applyFilter({
      action: 'secret.reveal',
      actor: 'key:auditor-b',
      from: asInput(from),
      until: asInput(until),
    });
    assert.equal(bobReveals.query.get('action'), 'secret.reveal');
    assert.equal(bobReveals.query.get('actor'), 'key:auditor-b');
    assert.equal(bobReveals.query.get('since'), from.toISOString());
    assert.equal(bobReveals.query.get('until'), until.toISOString());
    assert.equal(bobReveals.query.get('cursor'), null);
    assert.equal(bobReveals.query.get('limit'), String(AUDIT_PAGE));
    assert.deepEqual(
      bobReveals.body.events.map((e) => `${e.actor} ${e.action} ${e.outcome}`),
      ['key:auditor-b secret.reveal allowed', 'key:auditor-b secret.reveal allowed'],
    );
    const direct = await api('GET', `/api/default/audit?${bobReveals.query.toString()}`);
    assert.deepEqual(
      (direct.json as AuditPageBody).events.map((e) => e.requestId),
      bobReveals.body.events.map((e) => e.requestId),
      'the same query straight to the server answers the same events',
    );
    await shows(bobReveals.body);
    assert.doesNotMatch(await table.innerText(), /auditor-a|Denied/);

    // All of Bob's events: the refusal is among them, in words, with its reason.
    const bobAll = await applyFilter({ action: '', actor: 'key:auditor-b', from: asInput(from), until: '' });
    assert.equal(bobAll.query.get('action'), null);
    assert.equal(bobAll.query.get('until'), null);
    await shows(bobAll.body);
    const denied = bobAll.body.events.filter((e) => e.outcome === 'denied');
    assert.deepEqual(
      denied.map((e) => `${e.action} ${e.reason ?? ''}`),
      ['store.create missing_permission'],
    );
    assert.match(
      await table
        .locator('tbody tr')
        .filter({ hasText: denied[0]?.requestId ?? 'none' })
        .innerText(),
      /store\.create[\s\S]*Denied[\s\S]*missing_permission/,
    );

    // A window that ends before the events: the server answers none.
    const tooEarly = await applyFilter({
      action: '',
      actor: 'key:auditor-a',
      from: '',
      until: asInput(from),
    });
    assert.equal(tooEarly.query.get('until'), from.toISOString());
    assert.deepEqual(tooEarly.body.events, []);
    await page.getByText('No events match.').waitFor();

    // Alice's reveals fill a page and a bit: 'Older events' sends the server's cursor, keeping the filter.
    const aliceFilter = { action: 'secret.reveal', actor: 'key:auditor-a', from: asInput(from), until: '' };
    const newest = await applyFilter(aliceFilter);
    assert.equal(newest.body.events.length, AUDIT_PAGE);
    assert.ok(newest.body.nextCursor !== null, 'the server says there is an older page');
    await shows(newest.body);
    assert.match(await chain.innerText(), /This page links correctly/);

    const olderSent = page.waitForRequest(
      (r) => isAudit(r.url()) && new URL(r.url()).searchParams.has('cursor'),
    );
    const olderAnswered = page.waitForResponse(
      (r) => isAudit(r.url()) && new URL(r.url()).searchParams.has('cursor'),
    );
    await page.getByRole('button', { name: 'Older events' }).click();
    const olderQuery = new URL((await olderSent).url()).searchParams;
    assert.equal(olderQuery.get('cursor'), newest.body.nextCursor);
    assert.equal(olderQuery.get('action'), 'secret.reveal', 'the filter is kept while paging');
    assert.equal(olderQuery.get('actor'), 'key:auditor-a');
    const older = (await (await olderAnswered).json()) as AuditPageBody;
    assert.equal(older.events.length, 2);
    assert.equal(older.nextCursor, null);
    await shows(older);
    assert.equal(await page.getByRole('button', { name: 'Older events' }).isDisabled(), true);

    await page.getByRole('button', { name: 'Newer events' }).click();
    await shows(newest.body);

    // Tamper with the file as someone with write access would: one event names a predecessor that
    // is not the one before it. The console checks the links of the page it shows.
    const pair = newest.body.events.findIndex(
      (e, i) =>
        newest.body.events[i + 1]?.seq === e.seq - 1 && newest.body.events[i + 1]?.chainId === e.chainId,
    );
    const victim = newest.body.events[pair];
    const predecessor = newest.body.events[pair + 1];
    assert.ok(victim !== undefined && predecessor !== undefined, 'two consecutive events on the page');
    const db = new Database(join(server.dataDir, DATABASE_FILE));
    try {
      const changed = db
        .prepare('UPDATE audit_events SET prev_hash = ? WHERE chain_id = ? AND seq = ?')
        .run(randomBytes(32), victim.chainId, victim.seq);
      assert.equal(changed.changes, 1);
    } finally {
      db.close();
    }

    await page.getByRole('link', { name: 'Stores', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Stores' }).waitFor();
    await page.getByRole('link', { name: 'Audit trail' }).click();
    const tampered = await applyFilter(aliceFilter);
    assert.notEqual(
      tampered.body.events[pair]?.prevHash,
      predecessor.hash,
      'the server serves the edited row',
    );
    await shows(tampered.body);
    assert.match(
      await chain.innerText(),
      new RegExp(`Broken link between events #${predecessor.seq} and #${victim.seq}`),
    );
    await assertAccessible('audit trail with filters');
  });

  it('audit trail: a server without the route is told apart from an error', async () => {
    // The one faked answer: this server has the route, and the subject is an older Coffer without it.
    await page.route('**/api/default/audit?**', (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/problem+json',
        body: JSON.stringify({
          status: 404,
          title: 'Not Found',
          detail: 'No such endpoint.',
          code: 'route_not_found',
        }),
      }),
    );
    try {
      await page.getByRole('link', { name: 'Stores', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Stores' }).waitFor();
      await page.getByRole('link', { name: 'Audit trail' }).click();
      await page.getByText('The audit trail is not available on this server').waitFor();
      assert.equal(await page.getByRole('alert').count(), 0, 'not shown as a failure');
      await assertAccessible('audit trail, not available');
    } finally {
      await page.unroute('**/api/default/audit?**');
    }
  });

  it('made no request outside 127.0.0.1, broke no CSP rule, threw no error, left localStorage empty', async () => {
    const origin = new URL(server.url).origin;
    const foreign = requested.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'));
    assert.deepEqual(foreign, []);
    assert.ok(requested.some((u) => u.includes('/v1/tenants/default/stores')));
    assert.ok(!requested.some((u) => u.includes(server.adminToken)), 'the token never appears in a URL');
    assert.deepEqual(cspReports, []);
    assert.deepEqual(pageErrors, []);
    assert.equal(await inPage(page, 'localStorage.length'), 0);
  });
});
