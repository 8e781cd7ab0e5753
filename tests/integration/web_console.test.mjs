// The web console's pages in a real Chromium, each checked against the MI
// and photographed (a non-trivial PNG in the test's folder): the dashboard
// charts fed by stats/queues/connectors; the connectors page listing
// exactly connectors.list, adding, disabling and unbinding one; a rule
// dragged to a new place (routes.reorder); a message injected with
// messages.inject found by its number with its history; a live trace
// showing the injected message's journey and stopped when the page is
// left; a parameter refused with the validation error, then changed; an
// SMPP account added; a user added and a token shown once that works;
// diagnose's areas and problems; the audit log's entries; every page
// reached from the keyboard; and no script error on the way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';
import { openConsole, gotoTab } from './lib/webui.mjs';
import { runSipp, stopAllSipp } from './lib/sipp.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

const TRACED = '4915112345678';

let j;
let c;
let page;
let smsc;
const shots = [];

before(async () => {
  j = await startJunction();
  const sipPort = await freePort();
  const smppPort = await freePort();
  await j.mi('connectors.add', { name: 'pbx1', type: 'sip', conf: { uri: `sip:127.0.0.1:${sipPort}` } });
  await j.mi('connectors.add', { name: 'smsc1', type: 'smpp',
    conf: { host: '127.0.0.1', port: smppPort, system_id: 'test', password: 'secret' } });
  await j.mi('routes.add', { name: 'first', priority: 10, dst_prefix: '33', target: 'pbx1' });
  await j.mi('routes.add', { name: 'second', priority: 20, dst_prefix: '34', target: 'pbx1' });
  await j.mi('routes.add', { name: 'uk', priority: 30, dst_prefix: '44', target: 'smsc1' });
  // An event sink (AMQP, no broker needed): messages then have events.
  await j.mi('connectors.add', { name: 'events', type: 'amqp',
    conf: { host: '127.0.0.1', port: await freePort(), vhost: '/', user: 'guest', password: 'guest', exchange: 'x' } });
  // A real SMSC for the live trace's SIP MESSAGE -> submit_sm journey.
  smsc = await startSmsc();
  await j.mi('connectors.add', { name: 'smsc-de', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' } });
  await j.mi('routes.add', { name: 'mt-de', priority: 40, dst_prefix: '49', target: 'smsc-de' });
  await waitBound(j, 'smsc-de');
  c = await openConsole(j, '#/dashboard', 'webconsole');
  page = c.page;
});

after(async () => {
  if (c) await c.close();
  await stopAllSipp();
  if (j) await j.cleanup();
  if (smsc) await smsc.stop();
});

async function shot(name, t) {
  const p = await c.shot(name);
  shots.push(p);
  t.diagnostic(`screenshot: ${p}`);
}

test('the dashboard draws live charts of throughput, queues, latency and errors', async (t) => {
  await page.locator('#charts figure.chart').first().waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#charts figure.chart').count(), 5);
  // A second sample gives rates: each connector of connectors.list has its line.
  for (const cn of await j.mi('connectors.list')) {
    await page.locator(`#legend-tput-out li[data-series="${cn.name}"]`).waitFor({ timeout: 10000 });
  }
  // A queued message (smsc1 is never bound) shows in the queue chart as
  // queues.list counts it.
  await j.mi('messages.inject', { from: '4930123', to: '447700900001', body: 'q' });
  const backlog = (await j.mi('queues.list')).find((q) => q.name === 'smsc1').backlog;
  await waitFor(async () => (await page.locator('#legend-queues li[data-series="smsc1"] .value').textContent().catch(() => ''))
    === String(backlog), 10000, 'smsc1 backlog in the queue chart');
  assert.equal(await page.locator('#dash-routes').textContent(), String((await j.mi('routes.list')).length));
  const painted = await page.evaluate(() => {
    const cv = document.getElementById('chart-queues');
    const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i]) n++;
    return n;
  });
  assert.ok(painted > 500, `the queue chart is drawn (${painted} pixels)`);
  await shot('dashboard', t);
});

test('the connectors page lists exactly connectors.list and adds, disables and unbinds', async (t) => {
  await gotoTab(page, 'connectors');
  const listed = async () => page.locator('#conn-table tbody tr[data-name]').evaluateAll((rs) => rs.map((r) => r.dataset.name));
  const want = (await j.mi('connectors.list')).map((x) => x.name);
  await waitFor(async () => JSON.stringify(await listed()) === JSON.stringify(want), 10000, 'rows = connectors.list');

  const port = await freePort();
  await page.click('#cf-new');
  await page.fill('#cf-name', 'pbx9');
  await page.selectOption('#cf-type', 'sip');
  await page.fill('#cf-conf', JSON.stringify({ uri: `sip:127.0.0.1:${port}` }));
  await page.click('#cf-save');
  await page.locator('#conn-table tr[data-name="pbx9"]').waitFor({ timeout: 5000 });
  const added = (await j.mi('connectors.list')).find((x) => x.name === 'pbx9');
  assert.equal(added.conf.uri, `sip:127.0.0.1:${port}`);

  // Edit: the form takes the connector's conf; saving restarts it with the new one.
  const port2 = await freePort();
  await page.click('#conn-table tr[data-name="pbx9"] button.edit');
  assert.equal(JSON.parse(await page.inputValue('#cf-conf')).uri, `sip:127.0.0.1:${port}`);
  assert.equal(await page.locator('#cf-name').getAttribute('readonly'), '');
  await page.fill('#cf-conf', JSON.stringify({ uri: `sip:127.0.0.1:${port2}` }));
  await page.click('#cf-save');
  await waitFor(async () => (await j.mi('connectors.list')).find((x) => x.name === 'pbx9').conf.uri === `sip:127.0.0.1:${port2}`,
    5000, 'pbx9 edited');
  await page.click('#cf-new');

  await page.click('#conn-table tr[data-name="pbx9"] button.toggle');
  await waitFor(async () => (await j.mi('connectors.list')).find((x) => x.name === 'pbx9').enabled === false, 5000, 'pbx9 disabled');
  await page.locator('#conn-table tr[data-name="pbx9"] td.enabled', { hasText: 'no' }).waitFor({ timeout: 5000 });

  await page.click('#conn-table tr[data-name="smsc1"] button.bind');
  await waitFor(async () => (await j.mi('connectors.list')).find((x) => x.name === 'smsc1').status.state === 'held', 5000, 'smsc1 held');
  await page.locator('#conn-table tr[data-name="smsc1"] .badge', { hasText: 'held' }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#conn-table tr[data-name="smsc1"] button.bind').textContent(), 'Bind');
  assert.doesNotMatch(await page.locator('#conn-table').textContent(), /secret/);
  await shot('connectors', t);
});

test('a rule dragged onto another takes its place (routes.reorder)', async (t) => {
  await gotoTab(page, 'rules');
  const row = (n) => page.locator(`#rules-table tbody tr[data-name="${n}"]`);
  await row('uk').waitFor({ timeout: 5000 });
  await row('uk').dragTo(row('first'));
  await waitFor(async () => (await j.mi('routes.list')).map((r) => r.name).join() === 'uk,first,second,mt-de', 5000, 'uk first');
  await waitFor(async () => (await page.locator('#rules-table tbody tr').first().getAttribute('data-name')) === 'uk', 5000, 'uk row first');
  // The same from the keyboard: focus "move down" on uk and press Enter.
  await row('uk').locator('button.move-down').focus();
  await page.keyboard.press('Enter');
  await waitFor(async () => (await j.mi('routes.list')).map((r) => r.name).join() === 'first,uk,second,mt-de', 5000, 'uk second');
  await shot('routes', t);
});

test('the dry run shows the explanation routes.test gives', async (t) => {
  await gotoTab(page, 'dryrun');
  await page.fill('#dry-to', '34600000001');
  await page.click('#dry-submit');
  await page.locator('#dry-result:not([hidden])').waitFor({ timeout: 5000 });
  const ex = await j.mi('routes.test', { to: '34600000001' });
  assert.equal(ex.rule.name, 'second');
  assert.ok(ex.considered.length >= 1, 'a rule before it was considered');
  assert.equal(await page.locator('#dry-decision').textContent(), ex.decision);
  assert.match(await page.locator('#dry-rule').textContent(), new RegExp(`${ex.rule.id} ${ex.rule.name}`));
  const earlier = await page.locator('#dry-considered li').evaluateAll((ls) => ls.map((l) => l.dataset.id));
  assert.deepEqual(earlier, ex.considered.map((x) => String(x.id)), 'each earlier rule with its failing filter');
  await shot('dryrun', t);
});

test('a message injected through the MI is found by its number and shows its history', async (t) => {
  const { id } = await j.mi('messages.inject', { from: '4930555', to: '447700900123', body: 'find me' });
  await gotoTab(page, 'messages');
  await page.fill('#ms-number', '+447700900123');
  await page.click('#ms-search');
  const hit = page.locator(`#msg-table tbody tr[data-id="${id}"]`);
  await hit.waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#msg-table tbody tr[data-id]').count(), 1, 'only the message to that number');
  await hit.locator('a').click();
  await page.locator('#md-history').waitFor({ timeout: 5000 });
  const m = await j.mi('messages.get', { id });
  const steps = await page.locator('#md-history li').evaluateAll((ls) => ls.map((l) => l.dataset.what));
  assert.deepEqual(steps.slice(0, 2), ['received', 'routed']);
  assert.ok(m.events.length > 0, 'the message has events');
  const shown = await page.locator('#md-history li.event').evaluateAll((ls) => ls.map((l) => l.dataset.what));
  assert.deepEqual(shown, m.events.map((e) => e.type), 'each of its events, in order');
  assert.match(await page.locator('#md-history li.event').first().textContent(), /queued/);
  assert.match(await page.locator('#md-history li[data-what="routed"]').textContent(), /rule uk → smsc1/);
  await shot('messages', t);
});

test('the live trace shows a SIP MESSAGE -> submit_sm journey and stops when the page is left', async (t) => {
  await gotoTab(page, 'trace');
  await page.fill('#tr-to', TRACED);
  await page.click('#tr-start');
  await page.locator('#tr-state', { hasText: 'running' }).waitFor({ timeout: 5000 });
  assert.equal((await j.mi('trace.list')).length, 1);
  const h = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'web-trace', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, service: `+${TRACED}`, calls: 1,
  });
  assert.equal(h.exited.code, 0, h.explain());
  const item = (kind, text) => page.locator(`#trace-timeline li[data-kind="${kind}"]`, { hasText: text }).first();
  await item('packet', /MESSAGE sip:/).waitFor({ timeout: 10000 });
  await item('route', 'rule mt-de').waitFor({ timeout: 10000 });
  await item('pdu', 'submit_sm').waitFor({ timeout: 10000 });
  await item('pdu', 'submit_sm_resp').waitFor({ timeout: 10000 });
  const kinds = await page.locator('#trace-timeline li[data-kind]').evaluateAll((ls) => ls.map((l) => l.dataset.kind));
  assert.ok(kinds.indexOf('packet') < kinds.indexOf('pdu'), `MESSAGE before submit_sm: ${kinds}`);
  assert.equal(await page.locator('#trace-timeline li .tl-time').first().textContent(), '+0.000 s');
  await shot('trace', t);
  await gotoTab(page, 'params');
  await waitFor(async () => (await j.mi('trace.list')).length === 0, 5000, 'trace stopped on leaving');
});

test('a trace started from a message link ends when its tab is closed', async () => {
  const { id } = await j.mi('messages.inject', { from: '4930555', to: '447700900456', body: 'link' });
  const tab = await c.ctx.newPage();
  try {
    await tab.goto(`${c.base}#/trace?env_id=${id}`);
    await tab.locator('#tr-state', { hasText: 'running' }).waitFor({ timeout: 10000 });
    const traces = await j.mi('trace.list');
    assert.equal(traces.length, 1);
    assert.match(JSON.stringify(traces[0].filter), new RegExp(id));
  } finally {
    await tab.close({ runBeforeUnload: true });
  }
  await waitFor(async () => (await j.mi('trace.list')).length === 0, 5000, 'the closed tab\'s trace stopped');
});

test('parameters: a bad value shows the validation error, a good one is set', async (t) => {
  await gotoTab(page, 'params');
  const names = (await j.mi('params.list')).map((p) => p.name);
  await waitFor(async () => (await page.locator('#params-table tbody tr[data-name]').count()) === names.length, 5000, 'every parameter');
  const r = page.locator('#params-table tr[data-name="core.max_attempts"]');
  await r.locator('input').fill('0');
  await r.locator('button').click();
  await r.locator('.form-status.error').waitFor({ timeout: 5000 });
  assert.equal((await j.mi('params.list')).find((p) => p.name === 'core.max_attempts').value, '10');
  await r.locator('input').fill('7');
  await r.locator('input').press('Enter');
  await waitFor(async () => (await j.mi('params.list')).find((p) => p.name === 'core.max_attempts').value === '7', 5000, 'set to 7');
  await page.locator('#params-table tr[data-name="core.max_attempts"] td.changed').waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#params-table tr[data-name="db.path"] input').count(), 0, 'restart-only: no input');
  await shot('params', t);
});

test('an SMPP account added in the page is in accounts.list', async (t) => {
  await gotoTab(page, 'accounts');
  await page.fill('#af-id', 'cust1');
  await page.fill('#af-password', 'pw1');
  await page.fill('#af-nets', '127.0.0.0/8');
  await page.fill('#af-tput', '25');
  await page.click('#af-save');
  await page.locator('#acc-table tr[data-name="cust1"]').waitFor({ timeout: 5000 });
  const a = (await j.mi('accounts.list')).find((x) => x.system_id === 'cust1');
  assert.equal(a.throughput, 25);
  assert.equal(a.allowed_nets, '127.0.0.0/8');
  await shot('accounts', t);
});

test('users and tokens, rate tables, diagnose and audit pages show what the MI holds', async (t) => {
  await gotoTab(page, 'users');
  {
    const users = await j.mi('users.list');
    await waitFor(async () => (await page.locator('#users-table tbody tr[data-name]').count()) === users.length, 5000, 'users rows');
    await page.fill('#uf-name', 'ops1');
    await page.selectOption('#uf-role', 'operator');
    await page.fill('#uf-password', 'pw-ops1-00001');
    await page.click('#uf-add');
    await page.locator('#users-table tr[data-name="ops1"]').waitFor({ timeout: 5000 });
    assert.equal((await j.mi('users.list')).find((u) => u.name === 'ops1').role, 'operator');
    // A token is shown once, and it works as a Bearer token.
    await page.fill('#tf-name', 'ci-bot');
    await page.selectOption('#tf-role', 'viewer');
    await page.click('#tf-create');
    const secret = await page.locator('#token-secret').textContent({ timeout: 5000 });
    await page.locator('#tokens-table tr[data-name="ci-bot"]').waitFor({ timeout: 5000 });
    const res = await j.httpAnon('/mi', { method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'system.version' }) });
    assert.ok((await res.json()).result.version, 'the token shown opens the MI');
    assert.doesNotMatch(await page.locator('#tokens-table').textContent(), new RegExp(secret));
  }
  await shot('users', t);
  await gotoTab(page, 'rates');
  await shot('rates', t);
  await gotoTab(page, 'diagnose');
  {
    const d = await j.mi('diagnose');
    await page.locator('#diag-status', { hasText: d.status }).waitFor({ timeout: 10000 });
    const areas = await page.locator('#diag-areas tbody tr[data-area]').evaluateAll((rs) => rs.map((r) => r.dataset.area));
    assert.deepEqual(areas, d.areas.map((a) => a.area));
    // smsc1 was unbound above: its problem is named with cause and advice.
    if (d.problems.length) await page.locator('#diag-problems li').first().waitFor({ timeout: 5000 });
    assert.equal(await page.locator('#diag-problems li').count(), d.problems.length);
  }
  await shot('diagnose', t);
  await gotoTab(page, 'audit');
  {
    await page.locator('#audit-table tbody tr[data-id]').first().waitFor({ timeout: 5000 });
    const shown = await page.locator('#audit-table tbody tr[data-id]').evaluateAll((rs) => rs.map((r) => r.dataset.id));
    const ids = new Set((await j.mi('audit.list', { limit: 1000 })).map((a) => String(a.id)));
    assert.ok(shown.every((id) => ids.has(id)), 'every row is an audit.list entry');
    const added = page.locator('#audit-table tbody tr', { hasText: 'users.add' }).first();
    await added.waitFor({ timeout: 5000 });
    // Filtered by area: only the routes.* changes, as audit.list gives them.
    await page.fill('#au-method', 'routes');
    await page.click('#au-search');
    const want = (await j.mi('audit.list', { method: 'routes', limit: 100 })).map((a) => String(a.id));
    await waitFor(async () => JSON.stringify(await page.locator('#audit-table tbody tr[data-id]')
      .evaluateAll((rs) => rs.map((r) => r.dataset.id))) === JSON.stringify(want), 5000, 'the routes changes');
    assert.ok(want.length >= 4, 'the routes added and reordered');
  }
  await shot('audit', t);
});

test('every page is reached from the keyboard with a visible focus', async () => {
  await page.goto(`${c.base}#/dashboard`);
  await page.locator('#dashboard').waitFor({ state: 'visible', timeout: 5000 });
  // The first Tab reaches the skip link, which moves the focus to the page.
  await page.reload();
  await page.locator('#dashboard').waitFor({ state: 'visible', timeout: 5000 });
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'skip');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  assert.equal(new URL(page.url()).hash, '#/dashboard', 'no route change');
  const tabs = await page.locator('nav a[data-tab]').evaluateAll((as) => as.map((a) => a.dataset.tab));
  await page.focus('nav a[data-tab="dashboard"]');
  for (const tab of tabs.slice(1)) {
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.dataset.tab), tab);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', `focus on ${tab} is visible`);
    await page.keyboard.press('Enter');
    await page.locator(`main section[data-page="${tab}"]`).waitFor({ state: 'visible', timeout: 5000 });
    assert.equal(new URL(page.url()).hash, `#/${tab}`);
  }
});

test('the console logged no script errors and loaded nothing from elsewhere', () => {
  assert.ok(shots.length >= 12, `a screenshot of each page (${shots.length})`);
  assert.deepEqual(c.errors, []);
  assert.deepEqual(c.offSite, []);
});
