// The web UI in a real Chromium (playwright-core, Debian's /usr/bin/chromium):
// the dashboard, the live connectors table, the pages, and a flat route
// shown on the rules page (web_rules.test.mjs covers the routing pages).  One screenshot goes to a temporary folder that
// is kept when JUNCTION_KEEP is set (its path is printed as a diagnostic).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { webLogin } from './lib/weblogin.mjs';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let j;
let ctx;
let page;
let shotDir;
const pageErrors = [];

before(async () => {
  j = await startJunction();
  // Two connectors whose state is known without a peer: a SIP target
  // (ready as soon as it opens) and an SMPP client towards a closed port
  // (never bound).
  const sipPort = await freePort();
  const smppPort = await freePort();
  await j.mi('connectors.add', { name: 'pbx1', type: 'sip', conf: { uri: `sip:127.0.0.1:${sipPort}` } });
  await j.mi('connectors.add', {
    name: 'smsc1', type: 'smpp',
    conf: { host: '127.0.0.1', port: smppPort, system_id: 'test', password: 'secret' },
  });
  await j.mi('routes.add', { name: 'seeded', priority: 50, dst_prefix: '33', target: 'pbx1' });
  shotDir = mkdtempSync(path.join(tmpdir(), 'junction-webui-'));
  ctx = await chromium.launchPersistentContext(path.join(shotDir, 'profile'), {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 },
  });
  page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // The one expected failure: GET /session answers 401 before the login.
  page.on('console', (m) => {
    if (m.type() === 'error' && !(/status of 401/.test(m.text()) && /\/session$/.test(m.location().url))) pageErrors.push(m.text());
  });
  await webLogin(page, j, `http://127.0.0.1:${j.ports.http}/`);
});

after(async () => {
  if (ctx) await ctx.close();
  if (j) await j.cleanup();
  if (shotDir && !process.env.JUNCTION_KEEP) rmSync(shotDir, { recursive: true, force: true });
});

const ruleRow = (name) => page.locator(`#rules-table tbody tr[data-name="${name}"]`);

test('the dashboard shows the version and counters', async () => {
  const { version } = await j.mi('system.version');
  await page.locator('#dash-version', { hasText: version }).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#hdr-version').textContent(), `v${version}`);
  assert.match(await page.locator('#dash-uptime').textContent(), /^\d+[smhd]/);
  assert.equal(await page.locator('#link').textContent(), 'connected');
});

test('the connectors table shows each connector with its live state', async () => {
  const list = await j.mi('connectors.list');
  assert.equal(list.filter((c) => c.name !== 'sip:reply').length, 2, 'the two added, beside sip:reply');
  for (const c of list) {
    const row = page.locator(`#conn-table tbody tr[data-name="${c.name}"]`);
    await row.waitFor({ timeout: 10000 });
    assert.equal(await row.locator('td').nth(1).textContent(), c.type);
    // The state may move on (the SMPP client retries): compare with a fresh read.
    await waitFor(async () => {
      const now = (await j.mi('connectors.list')).find((x) => x.name === c.name).status.state;
      return (await row.locator('.badge').textContent()) === now;
    }, 10000, `state badge of ${c.name}`);
  }
  const sipRow = page.locator('#conn-table tbody tr[data-name="pbx1"]');
  assert.equal(await sipRow.locator('.badge').textContent(), 'ready');
  assert.match(await sipRow.locator('.details').textContent(), /uri sip:127\.0\.0\.1:\d+/);
  // The SMPP password never reaches the page.
  assert.doesNotMatch(await page.locator('#conn-table').textContent(), /secret/);
});

test('the connectors table refreshes by itself', async () => {
  const port = await freePort();
  await j.mi('connectors.add', { name: 'pbx2', type: 'sip', conf: { uri: `sip:127.0.0.1:${port}` } });
  const row = page.locator('#conn-table tbody tr[data-name="pbx2"]');
  await row.waitFor({ timeout: 5000 }); // no reload: the 2 s poll brings it
  await j.mi('connectors.delete', { name: 'pbx2' });
  await waitFor(async () => (await row.count()) === 0, 5000, 'pbx2 row gone');
});

test('the rules page lists the seeded route as a rule with its summary', async (t) => {
  await page.click('nav a[data-tab="rules"]');
  const row = ruleRow('seeded');
  await row.waitFor({ timeout: 10000 });
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells[0], '50');
  assert.equal(cells[4], 'dst 33… → pbx1');
  assert.equal(await row.locator('input.rule-enabled').isChecked(), true);
  assert.equal(await page.locator('#dash-routes').textContent(), '1');
  // the overview sections are hidden while another page shows
  assert.equal(await page.locator('#connectors').isVisible(), false);

  const shot = path.join(shotDir, 'webui.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 10000);
  t.diagnostic(`screenshot: ${shot}`);
  await page.click('nav a[data-tab="overview"]');
  await page.locator('#connectors').waitFor({ state: 'visible', timeout: 5000 });
});

test('the page logged no script errors', () => {
  assert.deepEqual(pageErrors, []);
});
