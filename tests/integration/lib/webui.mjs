// The web console in a real Chromium (playwright-core, Debian's
// /usr/bin/chromium or CHROMIUM_BIN) for the web_*.test.mjs files: one
// persistent profile in a temporary folder, every script error and failed
// request of the page collected, screenshots checked as non-trivial PNGs.
// The folder is kept when JUNCTION_KEEP is set.
import { mkdtempSync, rmSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Open the console of junction j at hash (e.g. '#/rules'), logged in
// through the form as an admin made for the test (opts.login false: not
// logged in).  Returns
// {ctx, page, errors, offSite, dir, base, shot(name), login(u, p), close()}.
export async function openConsole(j, hash = '', name = 'webui', opts = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), `junction-${name}-`));
  const ctx = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  const offSite = [];
  const base = `http://127.0.0.1:${j.ports.http}/`;
  page.on('pageerror', (e) => errors.push(String(e)));
  // Chromium logs every HTTP error status as a console error; the ones the
  // session contract answers by design (no session yet: 401 from /session;
  // a refused login: 401 or 429 from /login) are no fault of the page.
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = (m.location() || {}).url || '';
    if (/status of 401/.test(m.text()) && /\/session$/.test(url)) return;
    if (/status of (401|429)/.test(m.text()) && /\/login$/.test(url)) return;
    errors.push(`${m.text()} ${url}`);
  });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(base) && !u.startsWith('blob:') && !u.startsWith('data:')) offSite.push(u);
  });
  await page.goto(`${base}${hash}`);
  const c = {
    ctx, page, errors, offSite, dir, base,
    // A full-page screenshot into the folder; asserts a real PNG of some size.
    async shot(file) {
      const p = path.join(dir, `${file}.png`);
      await page.screenshot({ path: p, fullPage: true });
      const head = readFileSync(p).subarray(0, 8);
      assert.deepEqual([...head], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file}.png is a PNG`);
      assert.ok(statSync(p).size > 10000, `${file}.png is more than a blank page`);
      return p;
    },
    // Log in through the page's form; waits for the console.
    async login(user, password) {
      await page.locator('#login-view').waitFor({ state: 'visible', timeout: 10000 });
      await page.fill('#login-user', user);
      await page.fill('#login-password', password);
      await page.click('#login-submit');
      await page.locator('#console').waitFor({ state: 'visible', timeout: 10000 });
    },
    async close() {
      await ctx.close();
      if (!process.env.JUNCTION_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.login !== false) {
    const user = `web-${name}`;
    const password = `pw-${name}-${process.pid}`;
    await j.addUser(user, 'admin', password);
    c.user = user;
    c.password = password;
    await c.login(user, password);
  }
  return c;
}

// Go to a page of the console by its tab (as a user would click it).
export async function gotoTab(page, tab) {
  await page.click(`nav a[data-tab="${tab}"]`);
  await page.locator(`main section[data-page="${tab}"]`).waitFor({ state: 'visible', timeout: 5000 });
}
