/**
 * The dashboard in a real browser: playwright-core driving Debian's Chromium against a real service on 127.0.0.1
 * (temp SQLite store) fed by real agent runs against the emulators. Every step waits on DOM state, never on time.
 * Throughout, any console error, page error, failed request or 4xx/5xx answer fails the suite (the one expected
 * 401 of the wrong-token sign-in is the only exception, and it is asserted).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, API_TOKEN, CHROMIUM_ARGS, CHROMIUM_PATH, XSS_PAYLOAD, startFixture, type Fixture } from './fixture.js';

const IMAGES = path.resolve(import.meta.dirname, '../../docs/images');
const hasChromium = existsSync(CHROMIUM_PATH);
if (!hasChromium) console.warn(`[dashboard e2e] SKIPPED: no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium)`);

interface Problems {
  list: string[];
  allow: ((p: string) => boolean)[];
}

/** Records console errors, page errors, dialogs, failed requests and HTTP errors of a page. */
function watch(page: Page, problems: Problems, dialogs: string[]) {
  const push = (p: string) => {
    if (!problems.allow.some((ok) => ok(p))) problems.list.push(p);
  };
  page.on('console', (m) => m.type() === 'error' && push(`console: ${m.text()}`));
  page.on('pageerror', (e) => push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('requestfailed', (r) => {
    // Closing the circuit stream when leaving its view aborts that request on purpose.
    if (r.url().endsWith('/api/circuits/stream') && r.failure()?.errorText === 'net::ERR_ABORTED') return;
    push(`requestfailed: ${r.method()} ${new URL(r.url()).pathname} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => r.status() >= 400 && push(`http ${r.status()}: ${r.request().method()} ${new URL(r.url()).pathname}`));
}

describe.skipIf(!hasChromium)('dashboard in Chromium', () => {
  let fx: Fixture;
  let browser: Browser;
  const problems: Problems = { list: [], allow: [] };
  const dialogs: string[] = [];
  const ids: Record<string, string> = {};
  const contexts: BrowserContext[] = [];

  const newPage = async (opts: { width?: number; height?: number; dark?: boolean } = {}) => {
    const ctx = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 }, colorScheme: opts.dark ? 'dark' : 'light' });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(10_000);
    watch(page, problems, dialogs);
    return page;
  };

  beforeAll(async () => {
    mkdirSync(IMAGES, { recursive: true });
    [fx, browser] = await Promise.all([startFixture(), chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })]);
    // 30 research runs (one page is 25), some errors and a timeout, and two support runs with interesting content.
    for (let i = 0; i < 30; i++) await fx.run(`What is topic ${i}?`, { user: i % 2 ? 'bob' : 'erin', agent: 'research' });
    for (let i = 0; i < 3; i++) await fx.run(`fail ${i}`, { user: 'carol', agent: 'research' });
    await fx.run('loop forever', { user: 'dave', agent: 'looper', maxIterations: 2 });
    ids.secret = (await fx.run('my password=hunter2 where is the manual', { user: 'alice', agent: 'support' })).traceId;
    fx.emu.exa.setHandler(() => ({ results: [{ title: 'Poisoned <b>page</b>', url: 'https://example.com/p', content: XSS_PAYLOAD }] }));
    ids.xss = (await fx.run('summarise the poisoned page', { user: 'alice', agent: 'support' })).traceId;
    fx.emu.exa.setHandler(undefined);
    await fx.flush();
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await fx?.close();
  });

  it('shows a sign-in form without a valid token, and refuses a wrong one', async () => {
    const page = await newPage();
    problems.allow.push((p) => p === 'http 401: POST /api/session' || p.startsWith('console: Failed to load resource: the server responded with a status of 401'));
    await page.goto(`${fx.svc.url}/traces`);
    // isVisible() does not wait: the form appears after the page asks /api/session, so wait for it.
    await page.getByRole('heading', { name: 'Sign in to AgentEx' }).waitFor();
    await page.getByLabel('Token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token is not valid for this service.').waitFor();
    await page.getByLabel('Token').fill(API_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Traces', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/traces');
    problems.allow.pop();
  });

  it('moves the start-up token into an HttpOnly cookie, strips it from the URL and renders overview charts from real runs', async () => {
    const page = await newPage();
    const res = await page.goto(`${fx.svc.url}/?token=${API_TOKEN}&range=1h`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(page.url()).toBe(`${fx.svc.url}/?range=1h`);
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'agentex_token')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate(() => document.cookie)).toBe('');
    await page.locator('[data-kpi="runs"]').filter({ hasText: '36' }).waitFor();
    // 31 successes + 1 timeout + ... the bars and lines are drawn from the store's numbers.
    expect(await page.locator('svg[data-chart="runs"] rect[data-status="success"]').count()).toBeGreaterThan(0);
    expect(await page.locator('svg[data-chart="runs"] rect[data-status="error"]').count()).toBeGreaterThan(0);
    expect(await page.locator('svg[data-chart="runs"] rect[data-status="timeout"]').count()).toBeGreaterThan(0);
    expect(await page.locator('svg[data-chart="error-rate"] path').getAttribute('d')).toMatch(/^M/);
    expect(await page.locator('svg[data-chart="duration"] g.l-p95 circle').count()).toBeGreaterThan(0);
    expect(await page.locator('svg[data-chart="pipeline"]').getAttribute('aria-label')).toContain('stored 36');
    expect(await page.locator('[data-role]').textContent()).toBe('read-only');
    await page.screenshot({ path: path.join(IMAGES, 'dashboard-overview.png'), fullPage: true });
  });

  it('shows a circuit opening live, hides resets from the read token, and lets the admin reset it after confirming', async () => {
    const reader = await newPage();
    await reader.goto(`${fx.svc.url}/circuits?token=${API_TOKEN}`);
    await reader.locator('tr[data-circuit="exa"][data-state="closed"]').waitFor();
    expect(await reader.getByRole('button', { name: /Reset/ }).count()).toBe(0);

    const admin = await newPage();
    await admin.goto(`${fx.svc.url}/circuits?token=${ADMIN_TOKEN}`);
    await admin.locator('[data-conn="live"]').waitFor();
    await admin.locator('tr[data-circuit="exa"][data-state="closed"]').waitFor();
    const navigations: string[] = [];
    admin.on('framenavigated', (f) => f === admin.mainFrame() && navigations.push(f.url()));

    // Exa starts failing: three runs open its circuit (Tavily answers them). No reload on either page.
    fx.emu.exa.setHandler(() => ({ fault: 'status', status: 500, message: 'emulated outage' }) as never);
    for (let i = 0; i < 3; i++) await fx.run(`outage question ${i}`, { user: 'bob', agent: 'research' });
    fx.emu.exa.setHandler(undefined);
    const openRow = admin.locator('tr[data-circuit="exa"][data-state="open"]');
    await openRow.waitFor();
    await reader.locator('tr[data-circuit="exa"][data-state="open"]').waitFor();
    // The state is written out, not only coloured.
    expect(await openRow.locator('.badge').innerText()).toMatch(/\bopen$/);
    await openRow.locator('[data-cooldown]').waitFor();
    expect(await openRow.textContent()).toContain('emulated outage');
    await admin.screenshot({ path: path.join(IMAGES, 'dashboard-circuits.png'), fullPage: true });

    await openRow.getByRole('button', { name: 'Reset circuit exa' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Reset circuit exa?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(fx.svc.circuits.get('exa')?.state).toBe('open');
    await openRow.getByRole('button', { name: 'Reset circuit exa' }).click();
    await dialog.getByRole('button', { name: 'Reset', exact: true }).click();
    await admin.locator('tr[data-circuit="exa"][data-state="closed"]').waitFor();
    await admin.getByText('Circuit exa was reset to closed.').waitFor();
    await reader.locator('tr[data-circuit="exa"][data-state="closed"]').waitFor();
    expect(fx.svc.circuits.get('exa')?.state).toBe('closed');
    expect(navigations).toEqual([]);
  });

  it('filters, paginates and deep-links the traces list; arrow keys move between rows', async () => {
    await fx.flush();
    const page = await newPage();
    await page.goto(`${fx.svc.url}/traces?token=${API_TOKEN}&agent=research`);
    const rows = page.locator('table.traces tbody tr');
    await rows.nth(24).waitFor();
    expect(await rows.count()).toBe(25);
    await page.getByRole('button', { name: 'Load more' }).click();
    await rows.nth(35).waitFor(); // 30 + 3 errors + 3 outage runs
    expect(await rows.count()).toBe(36);
    await page.getByText('End of the list.').waitFor();
    const started = await rows.locator('time').evaluateAll((els) => els.map((e) => Date.parse(e.getAttribute('datetime')!)));
    expect(started).toEqual([...started].sort((a, b) => b - a));

    await page.getByLabel('User').fill('carol');
    await page.getByLabel('Status').selectOption('error');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/user=carol/);
    await page.locator('table.traces tbody tr').nth(2).waitFor();
    expect(await rows.count()).toBe(3);
    expect(await page.locator('table.traces tbody tr[data-status="error"]').count()).toBe(3);
    // The URL alone reproduces the view.
    const shared = await newPage();
    await shared.goto(`${page.url()}&token=${API_TOKEN}`);
    await shared.locator('table.traces tbody tr').nth(2).waitFor();
    expect(await shared.locator('table.traces tbody tr').count()).toBe(3);
    expect(await shared.getByLabel('User').inputValue()).toBe('carol');

    await rows.first().getByRole('link').focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.closest('tr')?.rowIndex)).toBe(2);

    await page.getByLabel('Trace id').fill('not-an-id');
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByText('A trace id is 32 hex characters or a UUID.').waitFor();
    await page.getByLabel('Trace id').fill(ids.secret!);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.waitForURL(new RegExp(`/traces/${ids.secret}$`));
    await page.locator('ul[role="tree"] li').first().waitFor();
  });

  it('shows the waterfall, moves through it with the keyboard and shows a tool span with its redacted input', async () => {
    const page = await newPage();
    await page.goto(`${fx.svc.url}/traces/${ids.secret}?token=${API_TOKEN}`);
    const items = page.locator('[role="treeitem"]');
    await items.first().waitFor();
    const n = await items.count();
    expect(n).toBeGreaterThanOrEqual(5);
    await items.first().focus();
    await page.keyboard.press('End');
    await expect(items.nth(n - 1).getAttribute('aria-selected')).resolves.toBe('true');
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight'); // first child of the first iteration
    await expect(items.nth(1).getAttribute('aria-selected')).resolves.toBe('true');
    await page.keyboard.press('ArrowLeft');
    await expect(items.nth(0).getAttribute('aria-selected')).resolves.toBe('true');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('treeitem');

    await page.locator('[role="treeitem"][data-kind="tool"]').first().click();
    const panel = page.locator('aside[data-span-panel]');
    await panel.getByRole('heading', { name: /execute_tool web_search/ }).waitFor();
    expect(page.url()).toMatch(/\?span=[0-9a-f]{16}$/);
    expect(await panel.locator('[data-circuit]').textContent()).toBe('exa');
    const input = panel.locator('pre[aria-label="Input"]');
    expect(await input.textContent()).toContain('my password=[REDACTED:password] where is the manual');
    expect(await input.locator('mark.m-redacted').textContent()).toBe('[REDACTED:password]');
    expect(await input.textContent()).not.toContain('hunter2');

    await page.locator('[role="treeitem"][data-kind="llm"]').nth(1).click();
    await panel.locator('[data-usage]').filter({ hasText: '480 in · 22 out' }).waitFor();
    expect(await panel.locator('mark.m-truncated').count()).toBeGreaterThan(0);
    await page.locator('[role="treeitem"][data-kind="tool"]').first().click();
    await page.screenshot({ path: path.join(IMAGES, 'dashboard-trace.png'), fullPage: true });

    // The selection is part of the URL: a colleague opening it sees the same span.
    const other = await newPage({ width: 420, height: 800, dark: true });
    await other.goto(`${page.url()}&token=${API_TOKEN}`);
    await other.locator('aside[data-span-panel]').getByRole('heading', { name: /execute_tool web_search/ }).waitFor();
    expect(await other.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    const bg = await other.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(13, 17, 23)');
  });

  it('renders HTML and scripts from a tool output as text, and nothing runs', async () => {
    const page = await newPage();
    await page.goto(`${fx.svc.url}/traces/${ids.xss}?token=${API_TOKEN}`);
    await page.locator('[role="treeitem"][data-kind="tool"]').first().click();
    const output = page.locator('aside[data-span-panel] pre[aria-label="Output"]');
    await output.waitFor();
    const text = (await output.textContent()) ?? '';
    expect(text).toContain('<img src=x onerror=alert(1)>');
    expect(text).toContain('<script>window.__pwned=1;alert(2)</script>');
    expect(text).toContain('Poisoned <b>page</b>');
    const dom = await page.evaluate(() => ({
      imgs: document.querySelectorAll('img').length,
      scripts: Array.from(document.scripts).map((s) => s.src.replace(location.origin, '')),
      bold: document.querySelectorAll('aside b').length,
      pwned: (window as unknown as { __pwned?: unknown }).__pwned,
    }));
    expect(dom.imgs).toBe(0);
    expect(dom.bold).toBe(0);
    expect(dom.scripts).toHaveLength(1);
    expect(dom.scripts[0]).toMatch(/^\/assets\/app-[A-Z0-9]+\.js$/);
    expect(dom.pwned).toBeUndefined();
    // The final answer quotes the page too.
    expect(dialogs).toEqual([]);
  });

  it('saw no console errors, failed requests or dialogs in any of the flows', () => {
    expect(problems.list).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
