// Rules as a sheet (routes.import / routes.export with format "csv",
// gateway/gw_route_csv.c): an imported sheet routes the next message, a bad
// line is refused with its line number and field and the running rules stay,
// a compile error comes back by line, export gives the imported sheet back,
// and a rule the flat form cannot hold is listed as skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

const smppConf = (smsc, id) => ({ host: '127.0.0.1', port: smsc.port, system_id: id, password: 'pw' });
const HEAD = 'id,name,priority,enabled,description,source,src_prefix,dst_prefix,dst_regex,' +
  'action,strategy,targets,rates,sip_status,smpp_status,reason\n';
const SHEET = HEAD +
  '1,no-premium,1,true,,,,449|4487,,reject,,,,403,11,premium-rate destination\n' +
  '2,uk-to-b,10,true,"UK, via b",,,44,,route,failover,b|a,,,,\n' +
  '3,rest-to-a,100,true,,,,,,route,,a,,,,\n';

let j, smscA, smscB;

const inject = (to, body) => j.mi('messages.inject', { from: '4930111', to, body });
const importCsv = (text) => j.mi('routes.import', { format: 'csv', text });
const rpc = async (method, params) =>
  JSON.parse((await j.miRaw(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }))).body);
const waitBody = (smsc, body) =>
  waitFor(() => smsc.submits.find((p) => p.short_message.message === body), 10000, `"${body}" at the SMSC`);

before(async () => {
  smscA = await startSmsc();
  smscB = await startSmsc();
  j = await startJunction();
  await j.mi('connectors.add', { name: 'a', type: 'smpp', conf: smppConf(smscA, 'ja') });
  await j.mi('connectors.add', { name: 'b', type: 'smpp', conf: smppConf(smscB, 'jb') });
  await waitBound(j, 'a');
  await waitBound(j, 'b');
});

after(async () => {
  await j?.cleanup();
  await smscA?.stop();
  await smscB?.stop();
});

test('an imported sheet routes the next message; export gives the same sheet back', async () => {
  assert.deepEqual(await importCsv(SHEET), { imported: 3 });
  await inject('+447700900001', 'uk by sheet');
  await waitBody(smscB, 'uk by sheet');
  await inject('+33612345678', 'rest by sheet');
  await waitBody(smscA, 'rest by sheet');
  await assert.rejects(inject('+4487123456', 'premium'), (e) => /premium-rate destination/.test(e.rpc.message));
  const ex = await j.mi('routes.export', { format: 'csv' });
  assert.deepEqual(ex, { csv: SHEET, rules: 3, skipped: [] });
  // the JSON form is the same set
  const rules = await j.mi('routes.export');
  assert.deepEqual(rules.map((r) => [r.id, r.name]), [[1, 'no-premium'], [2, 'uk-to-b'], [3, 'rest-to-a']]);
});

test('a bad line is refused with its line number and field; the running rules stay', async () => {
  await importCsv(SHEET);
  const before = await j.mi('routes.export');
  const bad = `${SHEET}4,x,200,true,,,,33,,route,fastest,a,,,,\n5,y,two,true,,,,,,drop,,,,,,\n`;
  const res = await rpc('routes.import', { format: 'csv', text: bad });
  assert.equal(res.error.code, -32602);
  assert.match(res.error.message, /^rules not imported: 2 error\(s\); line 5: strategy: unknown strategy "fastest"/);
  assert.deepEqual(res.error.data.map((e) => [e.line, e.field]), [[5, 'strategy'], [6, 'priority']]);
  const unknown = await rpc('routes.import', { format: 'csv', text: 'name,priority,colour\nx,1,red\n' });
  assert.equal(unknown.error.data[0].line, 1);
  assert.match(unknown.error.message, /unknown column "colour"/);
  assert.deepEqual(await j.mi('routes.export'), before);
  await inject('+447700900002', 'still uk to b');
  await waitBody(smscB, 'still uk to b');
});

test('a rule that does not compile is refused by its line', async () => {
  const before = await j.mi('routes.export');
  // line 3: the priority of line 2; line 4: a regex that does not compile;
  // line 5: a least_cost over a rate table that does not exist
  const text = 'name,priority,dst_regex,strategy,targets,rates\n' +
    'p,5,,,a,\nq,5,,,b,\nr,6,^(44,,a,\ns,7,,least_cost,,nosuch\n';
  const res = await rpc('routes.import', { format: 'csv', text });
  assert.equal(res.error.code, -32602);
  const got = res.error.data.map((e) => `${e.line}:${e.field}`);
  assert.ok(got.includes('4:dst_regex'), JSON.stringify(res.error.data));
  assert.ok(got.some((g) => /^[23]:priority$/.test(g)), JSON.stringify(res.error.data));
  assert.ok(got.includes('5:rates'), JSON.stringify(res.error.data));
  assert.ok(res.error.data.every((e) => e.text.startsWith(`line ${e.line}: `)));
  assert.deepEqual(await j.mi('routes.export'), before);
});

test('a rule the flat form cannot hold is listed as skipped, not dropped silently', async () => {
  await j.mi('routes.import', { rules: [
    { id: 1, name: 'flat', priority: 1, filters: { dst: { prefix: '44' } }, action: { route: { targets: ['b'] } } },
    { id: 2, name: 'office-hours', priority: 2,
      filters: { time: { tz: 'UTC', windows: [{ days: 'mon-fri', from: '08:00', to: '18:00' }] } },
      action: { route: { targets: ['a'] } } },
    { id: 3, name: 'rewrite', priority: 3,
      action: { route: { targets: ['a'] }, rewrite: { dst: { strip: 1 } } } },
  ] });
  const ex = await j.mi('routes.export', { format: 'csv' });
  assert.equal(ex.csv, `${HEAD}1,flat,1,true,,,,44,,route,,b,,,,\n`);
  assert.equal(ex.rules, 1);
  assert.deepEqual(ex.skipped, [
    { id: 2, name: 'office-hours', reason: 'filters.time: no column for it (JSON keeps it)' },
    { id: 3, name: 'rewrite', reason: 'action.rewrite: no column for it (JSON keeps it)' },
  ]);
  const wrong = await rpc('routes.export', { format: 'xml' });
  assert.equal(wrong.error.code, -32602);
});
