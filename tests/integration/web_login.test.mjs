// The console's session in a real Chromium: it starts with GET /session
// and, without one, a login form; a wrong password is refused with the
// server's error and a burst of them shows the wait (429, Retry-After);
// the user and role are shown with a logout that ends the session; the
// first start's admin, and any user who must change the password, sees
// only that form until it is changed;
// a viewer sees the pages with every change disabled (system.listMethods'
// roles) and the server refuses what the page would not offer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startJunction, waitFor } from './lib/junction.mjs';
import { openConsole, gotoTab } from './lib/webui.mjs';

let j;
let c;
let page;
const ADMIN = ['web-boss', 'pw-boss-0001'];
const VIEWER = ['web-viewer', 'pw-viewer-0001'];

before(async (t) => {
  j = await startJunction();
  await j.addUser(ADMIN[0], 'admin', ADMIN[1]);
  await j.addUser(VIEWER[0], 'viewer', VIEWER[1]);
  await j.mi('routes.add', { name: 'seeded', priority: 10, dst_prefix: '33', target: 'x' });
  c = await openConsole(j, '#/connectors', 'weblogin', { login: false });
  page = c.page;
});

after(async () => {
  if (c) await c.close();
  if (j) await j.cleanup();
});

const visible = (sel) => page.locator(sel).waitFor({ state: 'visible', timeout: 10000 });
const sessionStatus = () => page.evaluate(async () => (await fetch('/session')).status);

async function loginForm(user, password) {
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

test('without a session the console shows only the login form; a wrong password is refused', async () => {
  await visible('#login-view');
  assert.equal(await page.locator('#console').isVisible(), false);
  assert.equal(await sessionStatus(), 401);
  await loginForm(ADMIN[0], 'wrong');
  await page.locator('#login-status.error').waitFor({ timeout: 5000 });
  assert.ok((await page.locator('#login-status').textContent()).length > 0);
  assert.equal(await page.locator('#console').isVisible(), false);
});

test('a login shows the user and role and the page asked for; logout ends the session', async (t) => {
  await loginForm(...ADMIN);
  await visible('#console');
  assert.equal(await page.locator('#hdr-user').textContent(), `${ADMIN[0]} (admin)`);
  await visible('#connectors');
  assert.equal(await sessionStatus(), 200);
  t.diagnostic(`screenshot: ${await c.shot('logged-in')}`);
  await page.click('#logout');
  await visible('#login-view');
  assert.equal(await sessionStatus(), 401);
});

test('a session that ends while a page polls brings back the login form, saying so', async () => {
  await loginForm(...ADMIN);
  await gotoTab(page, 'dashboard');
  const mark = c.errors.length;
  // Ended elsewhere (another tab's logout): the dashboard's next poll gets 401.
  await page.evaluate(() => fetch('/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }));
  await visible('#login-view');
  assert.match(await page.locator('#login-status').textContent(), /session ended/);
  // The browser logs that 401 of /mi: expected here, not a fault of the page.
  await waitFor(() => c.errors.slice(mark).some((e) => /status of 401/.test(e)), 3000, 'the 401 logged').catch(() => {});
  c.errors.splice(mark, c.errors.length - mark, ...c.errors.slice(mark).filter((e) => !/status of 401/.test(e)));
});

test('a viewer sees the pages with every change disabled, and the server agrees', async (t) => {
  await loginForm(...VIEWER);
  await visible('#console');
  assert.equal(await page.locator('#hdr-user').textContent(), `${VIEWER[0]} (viewer)`);
  await gotoTab(page, 'connectors');
  await page.locator('#conn-table tbody tr[data-name="sip:reply"]').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#cf-save').isDisabled(), true, 'no connector to add');
  await gotoTab(page, 'rules');
  const row = page.locator('#rules-table tbody tr[data-name="seeded"]');
  await row.waitFor({ timeout: 10000 });
  for (const sel of ['button.danger', 'input.rule-enabled', 'button.move-up']) {
    assert.equal(await row.locator(sel).isDisabled(), true, `${sel} disabled`);
  }
  assert.equal(await page.locator('#re-save').isDisabled(), true);
  await gotoTab(page, 'params');
  await page.locator('#params-table tr[data-name="log.level"]').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#params-table tr[data-name="log.level"] button').isDisabled(), true);
  // What the page disables, the server refuses: 403 with a JSON-RPC error
  // (the browser logs that 403: the test's call, not the page's).
  const before403 = c.errors.length;
  const refused = await page.evaluate(async () => {
    const s = await (await fetch('/session')).json();
    const res = await fetch('/mi', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'routes.delete', params: { id: 1 } }) });
    return { status: res.status, body: await res.json() };
  });
  assert.equal(refused.status, 403);
  await waitFor(() => c.errors.length > before403, 2000, 'the 403 logged').catch(() => {});
  c.errors.splice(before403, c.errors.length - before403);
  assert.ok(refused.body.error);
  assert.equal((await j.mi('routes.list')).length, 1);
  await gotoTab(page, 'audit');
  await page.locator('#audit', { hasText: 'needs the admin role' }).waitFor({ timeout: 5000 });
  t.diagnostic(`screenshot: ${await c.shot('viewer')}`);
  await page.click('#logout');
  await visible('#login-view');
});

test('a user who must change the password sees only that form until it is changed', async () => {
  // An admin setting another's password makes them choose a new one.
  await j.sock('users.passwd', { name: VIEWER[0], password: 'pw-temp-00001' });
  await loginForm(VIEWER[0], 'pw-temp-00001');
  await visible('#passwd-view');
  assert.equal(await page.locator('#console').isVisible(), false);
  await page.fill('#pw-old', 'pw-temp-00001');
  await page.fill('#pw-new', 'pw-viewer-0002');
  await page.fill('#pw-again', 'pw-viewer-0002');
  await page.click('#pw-submit');
  await visible('#console');
  const u = (await j.mi('users.list')).find((x) => x.name === VIEWER[0]);
  assert.equal(u.must_change, false);
  await page.click('#logout');
  await visible('#login-view');
});

test('the first start\'s admin logs in with var/admin-password and must choose a new one', async () => {
  const first = readFileSync(path.join(j.dir, 'admin-password'), 'utf8').trim();
  await loginForm('admin', first);
  await visible('#passwd-view');
  assert.equal(await page.locator('#pw-title').textContent(), 'Choose a new password');
  // A mistyped repeat is caught in the page; a wrong old password by the server.
  await page.fill('#pw-old', first);
  await page.fill('#pw-new', 'admin-new-pass-1');
  await page.fill('#pw-again', 'admin-new-pass-2');
  await page.click('#pw-submit');
  await page.locator('#pw-status.error', { hasText: 'differ' }).waitFor({ timeout: 5000 });
  await page.fill('#pw-old', 'not-the-old-one');
  await page.fill('#pw-again', 'admin-new-pass-1');
  await page.click('#pw-submit');
  await page.locator('#pw-status.error', { hasText: 'Not changed' }).waitFor({ timeout: 5000 });
  await page.fill('#pw-old', first);
  await page.click('#pw-submit');
  await visible('#console');
  assert.equal(await page.locator('#hdr-user').textContent(), 'admin (admin)');
  await page.click('#logout');
  await visible('#login-view');
});

test('a burst of wrong passwords shows the wait the server asks for (429, Retry-After)', async () => {
  let said = '';
  await waitFor(async () => {
    await loginForm(ADMIN[0], 'wrong-again');
    await page.locator('#login-status.error').waitFor({ timeout: 5000 });
    said = await page.locator('#login-status').textContent();
    await waitFor(async () => !(await page.locator('#login-submit').isDisabled()) || /try again in \d+ s/.test(said), 5000, 'the form answers');
    return /try again in \d+ s/.test(said);
  }, 20000, 'a 429 answer');
  assert.equal(await page.locator('#login-submit').isDisabled(), true, 'the button waits out Retry-After');
  // After the wait the right password gets in.
  await waitFor(async () => {
    if (await page.locator('#console').isVisible()) return true;
    if (!(await page.locator('#login-submit').isDisabled())) await loginForm(...ADMIN);
    return false;
  }, 20000, 'login after the wait');
});

test('the login pages logged no script errors', () => {
  assert.deepEqual(c.errors, []);
});
