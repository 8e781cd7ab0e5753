// The compiled rule engine as junction's router, end to end: least cost to
// two SMPP peers from an imported rate sheet (and the next sheet applied to
// the next message), failover when the cheapest is down, a rule's reject
// answered with its SIP status (SIPp) and SMPP status (a customer bind),
// a drop counted and stored, a national number rewritten to international
// at the SMSC, routes.test and `junctionctl routes test`, a compile error
// that leaves the running rules as they were, live rule changes under SMPP
// and under SIPp traffic (no message routed by a half-changed set) and a
// per-rule rate limit holding under load.  Each test sets the whole rule
// set it needs with routes.import, so none depends on another's rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startJunction, waitFor, freePort, JUNCTIONCTL_BIN } from './lib/junction.mjs';
import { startSmsc, waitBound, connectorState, bindCustomer, submit } from './lib/smsc.mjs';
import { runSipp, stopAllSipp } from './lib/sipp.mjs';

const smppConf = (smsc, id) => ({ host: '127.0.0.1', port: smsc.port, system_id: id, password: 'pw' });
const ESME_RTHROTTLED = 0x58;

let j, smscA, smscB, cust;

const counters = async () => (await j.mi('stats.get')).counters;
const inject = (to, body, from = '4930111') => j.mi('messages.inject', { from, to, body });
const setRules = (rules) => j.mi('routes.import', { rules });
const bodiesAt = (smsc) => smsc.submits.map((p) => p.short_message.message);
const waitBody = (smsc, body) =>
  waitFor(() => smsc.submits.find((p) => p.short_message.message === body), 10000, `"${body}" at the SMSC`);
const sheet = (costA, costB) =>
  `Prefix;Connector;Rate;Currency;Destination\n44;a;${costA};EUR;UK\n44;b;${costB};EUR;UK\n`;
const leastCost = { id: 1, name: 'uk-least-cost', priority: 10,
  filters: { dst: { prefix: '44', type: 'international' } },
  action: { route: { strategy: 'least_cost', rates: 'uk' } } };

before(async () => {
  smscA = await startSmsc();
  smscB = await startSmsc();
  j = await startJunction({ params: { 'core.failover_after_s': 1, 'core.sweep_ms': 200 } });
  await j.mi('connectors.add', { name: 'a', type: 'smpp', conf: smppConf(smscA, 'ja') });
  await j.mi('connectors.add', { name: 'b', type: 'smpp', conf: smppConf(smscB, 'jb') });
  await waitBound(j, 'a');
  await waitBound(j, 'b');
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  cust = (await bindCustomer(j.ports.smpp, 'acme', 'pw')).session;
});

after(async () => {
  cust?.close();
  await stopAllSipp();
  await j?.cleanup();
  await smscA?.stop();
  await smscB?.stop();
});

test('least cost: the cheaper SMSC of the rate sheet gets the message; the next sheet applies to the next message', async () => {
  await j.mi('rates.import', { table: 'uk', csv: sheet('0,05', '0,03') });
  await setRules([leastCost]);
  const ex = await j.mi('routes.test', { to: '+447700900001' });
  assert.deepEqual(ex.targets.map((t) => [t.connector, t.cost]), [['b', 0.03], ['a', 0.05]]);
  await inject('+447700900001', 'cheapest is b');
  await waitBody(smscB, 'cheapest is b');
  assert.ok(!bodiesAt(smscA).includes('cheapest is b'));

  const r = await j.mi('rates.import', { table: 'uk', csv: sheet('0,02', '0,03') });
  assert.equal(r.rows, 2);
  await inject('+447700900002', 'now a is cheaper');
  await waitBody(smscA, 'now a is cheaper');
  assert.deepEqual((await j.mi('rates.list')).map((t) => [t.name, t.rows]), [['uk', 2]]);
  const csv = (await j.mi('rates.export', { table: 'uk' })).csv;
  assert.equal(csv, 'prefix,connector,cost,currency,valid_from,valid_to\n44,a,0.02,EUR,,\n44,b,0.03,EUR,,\n');
});

test('a rate sheet with a bad line is refused with its line number and nothing is imported', async () => {
  const before = await j.mi('rates.export', { table: 'uk' });
  const bad = `${sheet('0,02', '0,03')}447;c;cheap;EUR;x\n`;
  const res = JSON.parse((await j.miRaw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'rates.import',
    params: { table: 'uk', csv: bad } }))).body);
  assert.equal(res.error.code, -32602);
  assert.match(res.error.message, /line 4: cost: not a number/);
  assert.equal(res.error.data[0].line, 4);
  assert.deepEqual(await j.mi('rates.export', { table: 'uk' }), before);
  // a table a rule names cannot go
  await assert.rejects(j.mi('rates.delete', { table: 'uk' }), (e) => e.rpc.code === -32602 &&
    /unknown rate table|rates/.test(e.rpc.message));
});

test('failover: the cheapest connector down, the message goes to the next cheapest', async () => {
  await setRules([leastCost]); // a (0.02) first, then b
  await smscA.stop();
  await waitFor(async () => (await connectorState(j, 'a')) !== 'bound', 10000, 'a down');
  const { id } = await inject('+447700900003', 'a is down');
  await waitBody(smscB, 'a is down');
  await waitFor(async () => (await j.mi('messages.get', { id })).status === 'submitted', 5000, 'submitted');
  await smscA.start();
  await waitBound(j, 'a');
});

test('a reject answers with the rule\'s SIP status, SMPP status and an MI error naming the rule', async () => {
  await setRules([
    { id: 1, name: 'no-premium', priority: 1, filters: { dst: { prefix: ['449'] } },
      action: { reject: { sip_status: 480, smpp_status: 11, reason: 'premium-rate destination' } } },
    leastCost,
  ].map((r, i) => ({ ...r, id: i + 1, priority: i + 1 })));
  const before = (await counters())['core.rejected'] || 0;
  const h = await runSipp({ scenario: 'uac_message_480.xml', dir: j.dir, name: 'uac480',
    localPort: await freePort(), target: `127.0.0.1:${j.ports.sip}`, calls: 1, service: '+449001234567' });
  assert.equal(h.exited.code, 0, h.explain());
  const resp = await submit(cust, { source_addr: '4930111', destination_addr: '449001234567',
    short_message: 'premium' });
  assert.equal(resp.command_status, 11);
  await assert.rejects(inject('+449001234567', 'premium'), (e) => e.rpc.code === -32011 &&
    /rule 1 \(no-premium\): premium-rate destination/.test(e.rpc.message) && e.rpc.data.smpp_status === 11);
  assert.equal((await counters())['core.rejected'], before + 3);
});

test('a drop is answered as accepted, counted and stored as rejected, never delivered', async () => {
  await setRules([
    { id: 1, name: 'spam-trap', priority: 1, filters: { body: { regex: '(?i)^win a prize' } },
      action: { drop: { reason: 'spam' } } },
    { ...leastCost, id: 2, priority: 2 },
  ]);
  const before = (await counters())['core.dropped'] || 0;
  const resp = await submit(cust, { source_addr: '4930111', destination_addr: '447700900004',
    short_message: 'WIN a prize now' });
  assert.equal(resp.command_status, 0, 'answered as accepted');
  const { id } = await inject('+447700900004', 'win a prize too');
  await waitFor(async () => (await counters())['core.dropped'] === before + 2, 5000, 'two drops counted');
  const m = await j.mi('messages.get', { id });
  assert.equal(m.status, 'rejected');
  assert.equal(m.route, 'spam-trap');
  assert.ok(![...bodiesAt(smscA), ...bodiesAt(smscB)].some((b) => /prize/i.test(b)));
});

test('a national number is rewritten to international before it reaches the SMSC', async () => {
  await setRules([{ id: 1, name: 'uk-national', priority: 1,
    filters: { dst: { type: 'national', regex: '^07[0-9]{9}$' } },
    action: { rewrite: { dst: { regex: '^0([0-9]+)$', replace: '44$1', type: 'international', ton: 1, npi: 1 } },
      route: { targets: ['b'] } } }]);
  const { id } = await inject('07700900123', 'dialled nationally');
  const pdu = await waitBody(smscB, 'dialled nationally');
  assert.equal(pdu.destination_addr, '447700900123');
  assert.equal(pdu.dest_addr_ton, 1);
  const m = await j.mi('messages.get', { id });
  assert.equal(m.to, '447700900123', 'stored rewritten');
  assert.equal(m.envelope.to.ton, 1);
});

test('routes.test explains the decision; junctionctl routes test prints it readably', async () => {
  await j.mi('rates.import', { table: 'uk', csv: sheet('0,02', '0,03') });
  await setRules([
    { id: 1, name: 'no-premium', priority: 1, filters: { dst: { prefix: ['449'] } },
      action: { reject: { sip_status: 403 } } },
    { id: 2, name: 'uk-national', priority: 2, filters: { dst: { type: 'national' } },
      action: { rewrite: { dst: { strip: 1, prefix: '44', type: 'international', ton: 1, npi: 1 } },
        route: { strategy: 'least_cost', rates: 'uk' } } },
  ]);
  const ex = await j.mi('routes.test', { to: '07700900123', from: '4930111' });
  assert.equal(ex.decision, 'route');
  assert.equal(ex.rule.name, 'uk-national');
  assert.deepEqual(ex.considered.map((c) => [c.id, c.failed.field]), [[1, 'filters.dst.prefix']]);
  assert.deepEqual(ex.targets.map((t) => t.connector), ['a', 'b']);
  assert.equal(ex.result.to.address, '447700900123');
  const r = spawnSync(JUNCTIONCTL_BIN, ['--socket', j.params['mi.socket'], 'routes', 'test',
    'to=07700900123', 'from=4930111'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^decision: route/m);
  assert.match(r.stdout, /^rule: +2 uk-national \(priority 2\)$/m);
  assert.match(r.stdout, /^ {2}1 no-premium \(priority 1\): filters\.dst\.prefix failed on 07700900123$/m);
  assert.match(r.stdout, /^ {2}1\. a {2}0\.02 EUR$/m);
  assert.match(r.stdout, /^ {2}to: 07700900123 -> 447700900123$/m);
});

test('a compile error returns every error with rule and field and leaves the running rules untouched', async () => {
  await setRules([{ ...leastCost }]);
  const before = await j.mi('routes.export');
  const bad = [
    { id: 1, name: 'x', priority: 1, filters: { dst: { regex: '^(44' } }, action: { route: { targets: ['a'] } } },
    { id: 2, name: 'y', priority: 1, filters: { time: { tz: 'Mars/Olympus', windows: [] } }, action: { drop: true } },
  ];
  const res = JSON.parse((await j.miRaw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'routes.import',
    params: { rules: bad } }))).body);
  assert.equal(res.error.code, -32602);
  const paths = res.error.data.map((e) => `${e.rule}:${e.path}`);
  assert.ok(paths.includes('1:filters.dst.regex'), JSON.stringify(res.error.data));
  assert.ok(paths.some((p) => p.startsWith('2:filters.time')), JSON.stringify(res.error.data));
  assert.ok(paths.some((p) => p.endsWith(':priority')), JSON.stringify(res.error.data));
  // the flat form's errors too: an unknown field, a wrong type
  await assert.rejects(j.mi('routes.add', { name: 'z', target: 'a', colour: 'red' }),
    (e) => e.rpc.code === -32602 && /colour/.test(e.rpc.message));
  await assert.rejects(j.mi('routes.add', { name: 'z', target: 'a', priority: 'high' }),
    (e) => e.rpc.code === -32602 && /priority/.test(e.rpc.message));
  assert.deepEqual(await j.mi('routes.export'), before);
  await inject('+447700900005', 'still routed');
  await waitBody(smscA, 'still routed');
});

test('rules change under SMPP traffic: every message is routed by one whole set', async () => {
  // Generation g: rule "p" sends 4917 (g even) or 4918 (g odd) to a, rule
  // "q" sends the rest to b; both stamp the sender "g<g>".  A message
  // routed by a half-changed set would carry one generation's stamp on the
  // other generation's target.
  const gen = (g) => [
    { id: 1, name: `p${g}`, priority: 1, filters: { dst: { prefix: g % 2 ? '4918' : '4917' } },
      action: { rewrite: { src: { alnum: `g${g}` } }, route: { targets: ['a'] } } },
    { id: 2, name: `q${g}`, priority: 2, filters: { dst: { prefix: '491' } },
      action: { rewrite: { src: { alnum: `g${g}` } }, route: { targets: ['b'] } } },
  ];
  await setRules(gen(0));
  const tag = `live-${Date.now()}`;
  const N = 300;
  let changes = 0;
  let sending = true;
  const changer = (async () => {
    for (let g = 1; sending; g++) { await setRules(gen(g)); changes++; }
  })();
  const answers = [];
  for (let i = 0; i < N; i += 10) {
    const batch = [];
    for (let k = i; k < i + 10; k++)
      batch.push(submit(cust, { source_addr: '4930111', destination_addr: `491${7 + (k % 2)}0000${String(k).padStart(3, '0')}`,
        short_message: `${tag} ${k}` }));
    answers.push(...await Promise.all(batch));
  }
  sending = false;
  await changer;
  assert.ok(answers.every((a) => a.command_status === 0));
  assert.ok(changes >= 3, `only ${changes} rule changes during the traffic`);
  const mine = (s) => s.submits.filter((p) => p.short_message.message.startsWith(tag));
  await waitFor(() => mine(smscA).length + mine(smscB).length === N, 20000, `${N} messages at the SMSCs`);
  const perRule = {};
  for (const [smsc, target] of [[smscA, 'a'], [smscB, 'b']]) {
    for (const p of mine(smsc)) {
      const g = Number(p.source_addr.slice(1));
      const viaP = p.destination_addr.startsWith(g % 2 ? '4918' : '4917');
      assert.equal(target, viaP ? 'a' : 'b', `${p.destination_addr} from ${p.source_addr} at ${target}`);
      const rule = `${viaP ? 'p' : 'q'}${g}`;
      perRule[rule] = (perRule[rule] || 0) + 1;
    }
  }
  assert.equal(Object.values(perRule).reduce((x, y) => x + y, 0), N);
  assert.ok(Object.keys(perRule).length >= 3, JSON.stringify(perRule));
});

test('rules change under SIPp traffic: every message is routed by one whole set', async (t) => {
  // Two sets, each of two rules that only make sense together: a specific
  // prefix first, then "the rest of 491".
  //   A (generation g even), all to a:  A-15: 4915 -> a,  A-rest: 491 -> a
  //   B (generation g odd),  all to b:  B-16: 4916 -> b,  B-rest: 491 -> b
  // Rule names carry the generation ("g7:B-16").  A whole set sends 4915 to
  // its "-15"/"-rest" rule and 4916 to its "-rest"/"-16" rule, both to the
  // set's SMSC.  A half-changed set ({B-16, A-rest} or {A-15, B-rest}, in
  // either direction) routes one prefix by the catch-all of the other set,
  // e.g. 4915 by A-rest, a (prefix, rule) pair no whole set produces; so
  // checking every stored message's (destination prefix, route, target)
  // against the whole set its route's generation names fails on the first
  // message routed in such a window.  (Proved once by replacing the import
  // with two routes.update calls, rule 1 then rule 2: the check failed.)
  const whole = (g) => (g % 2
    ? { target: 'b', 4915: 'B-rest', 4916: 'B-16' }
    : { target: 'a', 4915: 'A-15', 4916: 'A-rest' });
  const gen = (g) => {
    const w = whole(g);
    const first = g % 2 ? '4916' : '4915';
    return [
      { id: 1, name: `g${g}:${w[first]}`, priority: 1, filters: { dst: { prefix: first } },
        action: { route: { targets: [w.target] } } },
      { id: 2, name: `g${g}:${g % 2 ? 'B' : 'A'}-rest`, priority: 2, filters: { dst: { prefix: '491' } },
        action: { route: { targets: [w.target] } } },
    ];
  };
  await setRules(gen(0));
  const N = 2000;
  const RATE = 100;
  // one destination of its own per call: 4915/4916 alternating, then the call index
  const dsts = Array.from({ length: N }, (_, i) => `${i % 2 ? '4916' : '4915'}${String(i).padStart(7, '0')}`);
  const inf = path.join(j.dir, 'live.csv');
  writeFileSync(inf, `SEQUENTIAL\n${dsts.map((d) => `${d};`).join('\n')}\n`);
  const mine = new Set(dsts);
  const atSmsc = (s) => s.submits.filter((p) => mine.has(p.destination_addr));

  let running = true;
  const run = runSipp({ scenario: 'uac_message_inf.xml', dir: j.dir, name: 'live', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: N, timeoutS: Math.ceil(N / RATE) + 40,
    args: ['-inf', inf, '-r', String(RATE)] }).finally(() => { running = false; });
  let changes = 0;
  const changer = (async () => {
    for (let g = 1; running; g++) { await setRules(gen(g)); changes++; }
  })();
  const h = await run;
  await changer;
  assert.equal(h.exited.code, 0, h.explain()); // every call answered 202
  assert.ok(changes >= 20, `only ${changes} rule changes during the traffic`);

  // every 202 reaches an SMSC, once
  await waitFor(() => atSmsc(smscA).length + atSmsc(smscB).length >= N, 30000, `${N} messages at the SMSCs`);
  const gotAt = new Map();
  for (const [s, name] of [[smscA, 'a'], [smscB, 'b']]) {
    for (const p of atSmsc(s)) {
      assert.ok(!gotAt.has(p.destination_addr), `${p.destination_addr} submitted twice`);
      gotAt.set(p.destination_addr, name);
    }
  }
  assert.equal(gotAt.size, N);

  // the MI lists up to its declared limit (10,000): all of them
  assert.ok((await j.mi('messages.list', { limit: 10000 })).length >= N, 'messages.list reaches past 1,000');
  // the stored route and target of each, from the store itself
  const q = spawnSync('sqlite3', ['-separator', '|', j.params['db.path'],
    "SELECT to_addr, route, target FROM messages WHERE to_addr LIKE '491%';"], { encoding: 'utf8' });
  assert.equal(q.status, 0, q.stderr);
  const stored = q.stdout.split('\n').filter(Boolean).map((l) => l.split('|'))
    .map(([to, route, target]) => ({ to, route, target })).filter((m) => mine.has(m.to));
  assert.equal(stored.length, N, 'one stored message per 202');
  const perRule = {};
  const gens = new Set();
  for (const m of stored) {
    const [, g, rule] = m.route.match(/^g(\d+):(.+)$/) || [];
    assert.ok(rule, `${m.to}: route ${m.route}`);
    const w = whole(Number(g));
    const pfx = m.to.slice(0, 4);
    assert.equal(`${rule}@${m.target}`, `${w[pfx]}@${w.target}`,
      `${m.to} routed by g${g}:${rule} to ${m.target}: no whole set does that`);
    assert.equal(gotAt.get(m.to), m.target, `${m.to} stored for ${m.target}, submitted to ${gotAt.get(m.to)}`);
    perRule[rule] = (perRule[rule] || 0) + 1;
    gens.add(g);
  }
  t.diagnostic(`${changes} rule changes, messages from ${gens.size} generations; per rule ${JSON.stringify(perRule)}`);
  for (const rule of ['A-15', 'A-rest', 'B-16', 'B-rest']) assert.ok(perRule[rule] > 0, `no message by ${rule}`);
});

test('a per-rule rate limit holds under load', async () => {
  await setRules([{ id: 1, name: 'limited', priority: 1, filters: { dst: { prefix: '4919' } },
    action: { route: { targets: ['b'] }, rate_limit: { rate: 20, burst: 10, over: 'reject' } } }]);
  const t0 = Date.now();
  const answers = await Promise.all(Array.from({ length: 100 }, (_, k) =>
    submit(cust, { source_addr: '4930111', destination_addr: `49190000${String(k).padStart(3, '0')}`,
      short_message: `limited ${k}` })));
  const elapsed = (Date.now() - t0) / 1000;
  const ok = answers.filter((a) => a.command_status === 0).length;
  const throttled = answers.filter((a) => a.command_status === ESME_RTHROTTLED).length;
  assert.equal(ok + throttled, 100);
  assert.ok(ok >= 10, `${ok} accepted: at least the burst`);
  assert.ok(ok <= 10 + Math.ceil(20 * elapsed) + 1, `${ok} accepted in ${elapsed} s: over the limit`);
  assert.ok(throttled > 0);
});
