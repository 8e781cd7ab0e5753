// The web UI in a real Chromium (lib/webui.mjs): the dashboard, the live
// connectors table, the hash navigation, and a flat route shown on the
// rules page (web_rules.test.mjs covers the routing pages,
// web_console.test.mjs the other pages).  One screenshot goes to a
// temporary folder that is kept when JUNCTION_KEEP is set (its path is
// printed as a diagnostic).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';
import { openConsole, gotoTab } from './lib/webui.mjs';

let j;
let c;
let page;

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
  c = await openConsole(j, '', 'webui');
  page = c.page;
});

after(async () => {
  if (c) await c.close();
  if (j) await j.cleanup();
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
  await gotoTab(page, 'connectors');
  const list = await j.mi('connectors.list');
  assert.equal(list.filter((c) => c.name !== 'sip:reply' && c.name !== 'http:callback').length, 2,
    'the two added, beside the implicit sip:reply and http:callback');
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
  await gotoTab(page, 'rules');
  const row = ruleRow('seeded');
  await row.waitFor({ timeout: 10000 });
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells[0], '50');
  assert.equal(cells[4], 'dst 33… → pbx1');
  assert.equal(await row.locator('input.rule-enabled').isChecked(), true);
  assert.equal(await page.locator('#dash-routes').textContent(), '1');
  // the other pages are hidden while this one shows, and the hash names it
  assert.equal(await page.locator('#connectors').isVisible(), false);
  assert.equal(new URL(page.url()).hash, '#/rules');

  t.diagnostic(`screenshot: ${await c.shot('webui')}`);
  await page.goBack();
  await page.locator('#connectors').waitFor({ state: 'visible', timeout: 5000 });
});

test('an old-style hash (#overview) opens the dashboard', async () => {
  await page.goto(`${c.base}#overview`);
  await page.locator('#dashboard').waitFor({ state: 'visible', timeout: 5000 });
});

test('the page logged no script errors', () => {
  assert.deepEqual(c.errors, []);
});
