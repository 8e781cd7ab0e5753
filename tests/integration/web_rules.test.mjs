// The routing pages of the web UI in a real Chromium (playwright-core,
// Debian's /usr/bin/chromium), each change checked through the MI too: a
// rule added through the JSON editor; an invalid regex showing the compile
// error with its rule and path, nothing stored; a rule edited with a field
// removed; the quick form; disable/enable and move up/down reflected in
// routes.list; delete with its confirmation; the dry run showing the
// matched rule, an earlier rule's failing filter, the targets with their
// costs and a rewrite; a rate sheet with a bad line showing its line
// number and importing nothing, a good one listed with its row count and
// exported.  Every wait is for a state (a selector or an MI answer).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { openConsole } from './lib/webui.mjs';

let j;
let c;
let page;

before(async () => {
  j = await startJunction();
  await j.mi('rates.import', { table: 'uk', csv: 'prefix;connector;rate;currency\n447;smsc-b;0,03;EUR\n447;smsc-a;0,02;EUR\n' });
  await j.mi('routes.add', { name: 'no-premium', priority: 10, filters: { dst: { prefix: ['449'] } },
    action: { reject: { sip_status: 403, reason: 'premium-rate destination' } } });
  // Everything the page loads comes from junction itself (c.offSite).
  c = await openConsole(j, '#rules', 'webrules');
  page = c.page;
});

after(async () => {
  if (c) await c.close();
  if (j) await j.cleanup();
});

const ruleRow = (name) => page.locator(`#rules-table tbody tr[data-name="${name}"]`);
const rules = () => j.mi('routes.list');
const names = async () => (await rules()).map((r) => r.name);

// Replace the editor's text (fill does, but says so).
const writeJson = (o) => page.fill('#re-json', typeof o === 'string' ? o : JSON.stringify(o, null, 2));

test('the rules table shows each rule with its summary; the editor starts from a template', async () => {
  const row = ruleRow('no-premium');
  await row.waitFor({ timeout: 10000 });
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells[0], '10');
  assert.equal(cells[4], 'dst 449… → reject SIP 403 (premium-rate destination)');
  const tpl = JSON.parse(await page.inputValue('#re-json'));
  assert.equal(tpl.priority, 20, 'one step above the highest priority');
  assert.ok(tpl.action.route);
});

test('a rule added through the JSON editor is in the table and in routes.list', async () => {
  await page.click('#re-reset');
  await writeJson({ name: 'uk-lc', priority: 20, description: 'cheapest first',
    filters: { dst: { prefix: ['447'] } }, action: { route: { strategy: 'least_cost', rates: 'uk' } } });
  await page.click('#re-save');
  await ruleRow('uk-lc').waitFor({ timeout: 10000 });
  assert.match(await page.locator('#re-status').textContent(), /added/);
  assert.equal(await ruleRow('uk-lc').locator('td.summary').textContent(), 'dst 447… → least cost uk');
  const stored = (await rules()).find((r) => r.name === 'uk-lc');
  assert.deepEqual([stored.priority, stored.description, stored.action],
    [20, 'cheapest first', { route: { strategy: 'least_cost', rates: 'uk' } }]);
  // the editor now holds the stored rule
  assert.equal(await page.locator('#re-title').textContent(), `Edit rule ${stored.id}`);
});

test('an invalid regex shows the compile error with its rule and path and stores nothing', async () => {
  const before = await j.mi('routes.export');
  await page.click('#re-reset');
  await writeJson({ name: 'bad-re', priority: 30, filters: { dst: { regex: '^(44' } },
    action: { route: { targets: ['smsc-a'] } } });
  await page.click('#re-save');
  const err = page.locator('#re-errors li.compile-error');
  await err.first().waitFor({ timeout: 10000 });
  assert.equal(await err.count(), 1);
  assert.equal(await err.locator('.err-path').textContent(), 'filters.dst.regex');
  assert.match(await err.locator('.err-rule').textContent(), /^rule \d+$/);
  assert.match(await err.locator('.err-msg').textContent(), /missing closing parenthesis/);
  assert.match(await page.locator('#re-status.error').textContent(), /Not saved/);
  assert.deepEqual(await j.mi('routes.export'), before);
  assert.equal(await ruleRow('bad-re').count(), 0);
  // text that is not JSON never reaches the MI
  await writeJson('{ "name": "x", ');
  await page.click('#re-save');
  await page.locator('#re-errors li', { hasText: /^JSON: / }).waitFor({ timeout: 5000 });
  assert.deepEqual(await j.mi('routes.export'), before);
});

test('editing a rule saves it with routes.update; a field taken out is removed', async () => {
  await ruleRow('uk-lc').locator('button.edit').click();
  const id = (await rules()).find((r) => r.name === 'uk-lc').id;
  await page.locator('#re-title', { hasText: `Edit rule ${id}` }).waitFor({ timeout: 5000 });
  const rule = JSON.parse(await page.inputValue('#re-json'));
  delete rule.description;
  rule.filters.dst.prefix = ['447', '4478'];
  await writeJson(rule);
  await page.click('#re-save');
  await page.locator('#re-status.ok', { hasText: 'saved' }).waitFor({ timeout: 10000 });
  const stored = (await rules()).find((r) => r.id === id);
  assert.equal(stored.description, undefined);
  assert.deepEqual(stored.filters.dst.prefix, ['447', '4478']);
  await ruleRow('uk-lc').locator('td.summary', { hasText: 'dst 447… | 4478… → least cost uk' }).waitFor({ timeout: 5000 });
});

test('the quick form builds the rule and adds it', async () => {
  await page.fill('#qf-name', 'de-failover');
  await page.fill('#qf-priority', '40');
  await page.fill('#qf-prefixes', '49, 43');
  await page.fill('#qf-targets', 'smsc-a, smsc-b');
  await page.click('#qf-submit');
  await ruleRow('de-failover').waitFor({ timeout: 10000 });
  const stored = (await rules()).find((r) => r.name === 'de-failover');
  assert.deepEqual(stored.filters, { dst: { prefix: ['49', '43'] } });
  assert.deepEqual(stored.action, { route: { strategy: 'failover', targets: ['smsc-a', 'smsc-b'] } });
  assert.equal(await ruleRow('de-failover').locator('td.summary').textContent(), 'dst 49… | 43… → smsc-a, smsc-b');
  assert.equal(await page.inputValue('#qf-name'), '', 'the quick form is cleared');
});

test('disable and enable toggles are reflected in routes.list', async () => {
  const toggle = ruleRow('de-failover').locator('input.rule-enabled');
  await toggle.uncheck();
  await page.locator('#rules-status.ok', { hasText: 'disabled' }).waitFor({ timeout: 10000 });
  assert.equal((await rules()).find((r) => r.name === 'de-failover').enabled, false);
  assert.equal(await ruleRow('de-failover').locator('input.rule-enabled').isChecked(), false);
  await ruleRow('de-failover').locator('input.rule-enabled').check();
  await page.locator('#rules-status.ok', { hasText: 'enabled' }).waitFor({ timeout: 10000 });
  assert.equal((await rules()).find((r) => r.name === 'de-failover').enabled, true);
});

test('move up and down reorder the rules (routes.reorder)', async () => {
  assert.deepEqual(await names(), ['no-premium', 'uk-lc', 'de-failover']);
  await ruleRow('de-failover').locator('button.move-up').click();
  await waitFor(async () => (await names()).join() === 'no-premium,de-failover,uk-lc', 10000, 'moved up');
  await page.locator('#rules-table tbody tr:nth-child(2)[data-name="de-failover"]').waitFor({ timeout: 5000 });
  assert.deepEqual((await rules()).map((r) => r.priority), [10, 20, 40], 'the priorities stay, the rules swap');
  assert.equal(await page.locator('#rules-table tbody tr').first().locator('button.move-up').isDisabled(), true);
  await ruleRow('de-failover').locator('button.move-down').click();
  await waitFor(async () => (await names()).join() === 'no-premium,uk-lc,de-failover', 10000, 'moved down');
  await page.locator('#rules-table tbody tr:nth-child(3)[data-name="de-failover"]').waitFor({ timeout: 5000 });
});

test('delete asks for a second click, then removes the rule', async () => {
  // the quick form left de-failover in the editor
  const id = (await rules()).find((r) => r.name === 'de-failover').id;
  assert.equal(await page.locator('#re-title').textContent(), `Edit rule ${id}`);
  const del = ruleRow('de-failover').locator('button.danger');
  await del.click();
  assert.equal(await del.textContent(), 'Confirm');
  assert.ok((await names()).includes('de-failover'), 'one click deletes nothing');
  await del.click();
  await waitFor(async () => (await ruleRow('de-failover').count()) === 0, 10000, 'row removed');
  assert.ok(!(await names()).includes('de-failover'));
  // ids are reused: the editor no longer updates the deleted rule's id
  assert.equal(await page.locator('#re-title').textContent(), 'New rule');
  assert.equal(await page.locator('#re-save').textContent(), 'Add rule');
});

test('the dry run shows the matched rule, an earlier rule\'s failing filter, the targets and the result', async () => {
  // a rewrite so the explanation has one: national 07... to 447...
  await j.mi('routes.update', { id: (await rules()).find((r) => r.name === 'uk-lc').id,
    filters: { dst: { prefix: ['447', '07'] } },
    action: { rewrite: { dst: { regex: '^0([0-9]+)$', replace: '44$1' } },
      route: { strategy: 'least_cost', rates: 'uk' } } });
  await page.click('nav a[data-tab="dryrun"]');
  await page.fill('#dry-to', '07700900123');
  await page.fill('#dry-from', '4930111');
  await page.click('#dry-submit');
  await page.locator('#dry-decision', { hasText: 'route' }).waitFor({ timeout: 10000 });
  assert.match(await page.locator('#dry-rule').textContent(), /^\d+ uk-lc \(priority 20\)$/);
  const earlier = page.locator('#dry-considered li');
  assert.equal(await earlier.count(), 1);
  assert.match(await earlier.textContent(), /no-premium \(priority 10\): filters\.dst\.prefix failed on 07700900123/);
  assert.deepEqual((await page.locator('#dry-targets li').allTextContents()).map((s) => s.trim()),
    ['smsc-a 0.02 EUR', 'smsc-b 0.03 EUR']);
  assert.equal(await page.locator('#dry-rewrites li').textContent(), 'to: 07700900123 → 447700900123');
  assert.match(await page.locator('#dry-res-to').textContent(), /^to 447700900123 \(/);
  assert.match(await page.locator('#dry-res-from').textContent(), /^from 4930111/);
  // a reject: the decision and the answer
  await page.fill('#dry-to', '449001234567');
  await page.click('#dry-submit');
  await page.locator('#dry-decision', { hasText: 'reject' }).waitFor({ timeout: 10000 });
  assert.match(await page.locator('#dry-result').textContent(), /SIP 403/);
});

test('a rate sheet with a bad line shows its line number and imports nothing', async () => {
  await page.click('nav a[data-tab="rates"]');
  const row = page.locator('#rates-table tbody tr[data-name="uk"]');
  await row.waitFor({ timeout: 10000 });
  assert.equal(await row.locator('td.rows').textContent(), '2');
  const before = await j.mi('rates.export', { table: 'uk' });
  await page.fill('#ri-table', 'uk');
  await page.fill('#ri-csv', 'prefix,connector,cost,currency\n447,smsc-a,0.01,EUR\n4478,smsc-b,cheap,EUR\n');
  await page.click('#ri-submit');
  const err = page.locator('#rates-errors li.csv-error');
  await err.first().waitFor({ timeout: 10000 });
  assert.equal(await err.count(), 1);
  assert.equal(await err.locator('.err-line').textContent(), 'line 3');
  assert.equal(await err.locator('.err-path').textContent(), 'cost');
  assert.match(await page.locator('#rates-status.error').textContent(), /Nothing imported/);
  assert.deepEqual(await j.mi('rates.export', { table: 'uk' }), before);
  assert.equal(await row.locator('td.rows').textContent(), '2');
});

test('a good rate sheet shows the table with its row count; export shows the CSV; delete removes it', async () => {
  await page.fill('#ri-table', 'de');
  await page.fill('#ri-csv', 'prefix,connector,cost,currency\n49,smsc-a,0.05,EUR\n4915,smsc-b,0.04,EUR\n4917,smsc-b,0.04,EUR\n');
  await page.click('#ri-submit');
  const row = page.locator('#rates-table tbody tr[data-name="de"]');
  await row.waitFor({ timeout: 10000 });
  assert.equal(await row.locator('td.rows').textContent(), '3');
  assert.equal(await page.locator('#rates-errors').isVisible(), false);
  assert.deepEqual((await j.mi('rates.list')).map((t) => [t.name, t.rows]).sort(), [['de', 3], ['uk', 2]]);
  await row.locator('button.export').click();
  await page.locator('#rates-export-text', { hasText: '4915,smsc-b,0.04,EUR' }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#rates-export-text').textContent(), (await j.mi('rates.export', { table: 'de' })).csv);
  assert.equal(await page.locator('#rates-download').getAttribute('download'), 'de.csv');
  // a table a rule names cannot go: the MI's refusal is shown, the table stays
  const uk = page.locator('#rates-table tbody tr[data-name="uk"] button.danger');
  await uk.click();
  await uk.click();
  await page.locator('#rates-status.error').waitFor({ timeout: 10000 });
  assert.ok((await j.mi('rates.list')).some((t) => t.name === 'uk'));
  const del = row.locator('button.danger');
  await del.click();
  await del.click();
  await waitFor(async () => (await row.count()) === 0, 10000, 'de row removed');
  assert.ok(!(await j.mi('rates.list')).some((t) => t.name === 'de'));
});

test('peer and admin text is shown as text, never as markup', async (t) => {
  await j.mi('routes.add', { name: '<img src=x onerror=alert(1)>', priority: 90,
    filters: { dst: { prefix: ['1'] } }, action: { route: { targets: ['<b>x</b>'] } } });
  await page.click('nav a[data-tab="rules"]');
  await page.click('#rules-refresh');
  const row = page.locator('#rules-table tbody tr', { hasText: '<img src=x onerror=alert(1)>' });
  await row.waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#rules-table img, #rules-table b').count(), 0);
  assert.equal(await row.locator('td.summary').textContent(), 'dst 1… → <b>x</b>');

  t.diagnostic(`screenshot: ${await c.shot('webrules')}`);
});

// A rule that uses every source kind, filter, action field and modifier.
const EVERYTHING = {
  name: 'all-fields', priority: 500, enabled: false, description: 'every field',
  source: { connector: ['smpp-in'], smpp_account: ['acme'], sip_domain: ['*.example.com'], sip_peer: ['192.0.2.1:5060'],
    amqp_queue: ['q1'], api_key: ['k1'] },
  filters: {
    dst: { prefix: ['447', '4478'], exact: ['447700900123'], regex: '^44[0-9]{10}$', type: ['international'] },
    src: { prefix: ['49'], exact: ['4930123'], regex: '^49', type: ['international', 'national'] },
    body: { regex: '(?i)^stop' }, tags: { tier: 'gold', campaign: true },
    time: { tz: 'Europe/Berlin', windows: [{ days: 'mon-fri', from: '09:00', to: '17:30' }, { days: ['sat', 'sun'], from: '10:00', to: '12:00' }] },
    length: { chars: { min: 1, max: 160 }, parts: { min: 1, max: 3 } }, coding: ['gsm', 'ucs2'],
  },
  action: {
    route: { strategy: 'weighted', targets: ['smsc-a', { connector: 'smsc-b', weight: 3 }], rates: 'uk' },
    rewrite: { dst: { strip: 2, prefix: '44', regex: '^0(.*)', replace: '$1', type: 'international', ton: 1, npi: 1 },
      src: { alnum: 'Junction' } },
    set: { tags: { route: 'uk' }, validity_s: 3600, receipt: true },
    mirror: { exchange: 'audit', routing_key: 'uk.mobile' },
    rate_limit: { rate: 50, burst: 100, over: 'queue', sip_status: 503, smpp_status: 88 },
  },
};

test('the rule form expresses every filter and action: editor -> form -> editor is the same rule', async () => {
  await page.click('nav a[data-tab="rules"]');
  await page.click('#re-reset');
  for (const rule of [EVERYTHING,
    { name: 'rej', priority: 501, enabled: true, action: { reject: { sip_status: 488, smpp_status: 69, reason: 'no' } } },
    { name: 'drp', priority: 502, enabled: true, filters: { dst: { prefix: ['1'] } }, action: { drop: { reason: 'spam' } } },
    { name: 'drp2', priority: 503, enabled: true, action: { drop: true } }]) {
    await writeJson(rule);
    await page.click('#rf-from-json');
    await writeJson('{}');
    await page.click('#rf-to-json');
    assert.deepEqual(JSON.parse(await page.inputValue('#re-json')), rule, rule.name);
  }
});

test('a rule saved from the form is in routes.list with its filters and action', async () => {
  await page.click('#re-reset');
  await writeJson({});
  await page.click('#rf-from-json');
  await page.fill('#rf-name', 'form-made');
  await page.fill('#rf-priority', '600');
  await page.check('#rf-enabled');
  await page.fill('#rf-filters-dst-prefix', '3312, 3313');
  await page.fill('#rf-filters-body-regex', '^promo');
  await page.selectOption('#rf-action-kind', 'reject');
  await page.fill('#rf-action-reject-sip_status', '488');
  await page.fill('#rf-action-reject-reason', 'no promos');
  assert.equal(await page.locator('#rf-action-route-targets').isVisible(), false, 'route fields hidden for a reject');
  await page.click('#rf-save');
  await ruleRow('form-made').waitFor({ timeout: 10000 });
  const r = (await rules()).find((x) => x.name === 'form-made');
  assert.deepEqual(r.filters, { dst: { prefix: ['3312', '3313'] }, body: { regex: '^promo' } });
  assert.deepEqual(r.action, { reject: { sip_status: 488, reason: 'no promos' } });
  await j.mi('routes.delete', { id: r.id });
});

test('the page logged no script errors and loaded nothing from elsewhere', () => {
  assert.deepEqual(c.errors, []);
  assert.deepEqual(c.offSite, []);
});
