// The trace console end to end: junctionctl trace to=<number> follows one
// SIP MESSAGE through junction to a real SMSC (npm smpp) and back (the
// submit_sm_resp, then the delivery receipt and its answer), every
// line read from junctionctl's own output, while a second MESSAGE to
// another number, sent through the same path during the trace, stays out.
// Also: the trace MI commands' bounds and errors, and that junctionctl
// stops its trace when it ends (by --seconds and by SIGINT); the long poll
// (trace.list wait_ms: answered at the first record, holding neither the
// MI nor the socket's loop, ended by trace.stop); a trace whose client
// vanished ends after trace.idle_s; the filters in combination from
// junctionctl's key=value words, SMPP system_id among them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startJunction, freePort, waitFor, JUNCTIONCTL_BIN } from './lib/junction.mjs';
import { runSipp, stopAllSipp } from './lib/sipp.mjs';
import { startSmsc, startScriptedSmsc, waitBound, bindCustomer, submit } from './lib/smsc.mjs';

const TRACED = '4915112345678';
const OTHER = '4930555000111';

let j, smsc;
const consoles = new Set();

before(async () => {
  smsc = await startSmsc();
  j = await startJunction({ params: { 'smpp.reconnect_s': 1, 'log.level': 'info' } });
  await j.mi('connectors.add', {
    name: 'smsc1', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' },
  });
  await j.mi('routes.add', { name: 'mt-de', priority: 10, dst_prefix: '49', target: 'smsc1' });
  await waitBound(j, 'smsc1');
});

after(async () => {
  for (const c of consoles) if (c.exited === null) c.proc.kill('SIGKILL');
  await stopAllSipp();
  if (j) await j.cleanup();
  if (smsc) await smsc.stop();
});

// Start junctionctl in the background; its output accumulates in c.out.
function startConsole(args) {
  const proc = spawn(JUNCTIONCTL_BIN, ['--socket', j.params['mi.socket'], ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const c = { proc, out: '', err: '', exited: null };
  consoles.add(c);
  proc.stdout.on('data', (d) => { c.out += d; });
  proc.stderr.on('data', (d) => { c.err += d; });
  c.done = new Promise((resolve) => proc.on('exit', (code, sig) => {
    c.exited = { code, sig };
    resolve(c.exited);
  }));
  return c;
}

const sendMessage = async (number, name, args = []) => {
  const h = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name, localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, service: `+${number}`, calls: 1, args,
  });
  assert.equal(h.exited.code, 0, h.explain());
};

const activeTraces = async () => (await j.mi('trace.list')).map((t) => t.id);

test('junctionctl trace shows one message from SIP in to SMPP out and back, and nothing else', async () => {
  const c = startConsole(['trace', `to=${TRACED}`, '--seconds', '30']);
  try {
    await waitFor(async () => (await activeTraces()).length === 1, 10000, 'the trace to start');

    // the other number first: its whole journey is over before ours starts
    await sendMessage(OTHER, 'other');
    await waitFor(() => smsc.submits.length === 1, 10000, 'the other submit_sm');
    await waitFor(async () => (await j.mi('messages.list', { limit: 5 }))
      .some((m) => m.status === 'submitted'), 10000, 'the other message submitted');
    await sendMessage(TRACED, 'traced');
    await waitFor(() => smsc.submits.length === 2, 10000, 'the traced submit_sm');
    await waitFor(() => /submit_sm_resp/.test(c.out) && /STATE .*submitted/.test(c.out), 10000,
      `the submit_sm_resp and the submitted state in the console:\n${c.out}\n${c.err}`);

    const lines = c.out.trim().split('\n');
    const at = (re) => {
      const i = lines.findIndex((l) => re.test(l));
      assert.ok(i >= 0, `no line matching ${re} in:\n${c.out}`);
      return i;
    };
    // the timeline: time since the first record, protocol, arrow, where, what, ids
    assert.match(lines[0], /^# \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC = \+0\.0 ms$/, c.out);
    assert.match(lines[1], /^ +\+0\.0 ms  SIP +<- in /, c.out);
    const times = lines.slice(1).map((l) => Number(l.match(/^ *\+(\d+\.\d) ms  /)[1]));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), `times grow:\n${c.out}`);
    const msgIn = at(new RegExp(`^ +\\+[\\d.]+ ms  SIP +<- in  +sip 127\\.0\\.0\\.1:\\d+ +MESSAGE sip:\\+${TRACED}@`));
    const route = at(/^ +\+[\d.]+ ms  ROUTE +\. +smsc1 \S+ +rule mt-de -> smsc1  env=\S+$/);
    const accepted = at(/^ +\+[\d.]+ ms  SIP +-> out +sip 127\.0\.0\.1:\d+ +SIP\/2\.0 202 /);
    const submit = at(new RegExp(`^ +\\+[\\d.]+ ms  SMPP +-> out +smsc1 127\\.0\\.0\\.1:\\d+ +submit_sm seq \\d+ from alice to ${TRACED}  system_id=junction$`));
    const resp = at(/^ +\+[\d.]+ ms  SMPP +<- in  +smsc1 .*submit_sm_resp seq \d+ status 0x0 message_id smsc-\d+  system_id=junction  msgid=smsc-\d+$/);
    assert.ok(msgIn < route, 'the MESSAGE comes in before it is routed');
    assert.ok(route < accepted, 'the 202 goes out after routing (after the commit)');
    assert.ok(route < submit, 'the submit_sm goes out after routing');
    assert.ok(submit < resp, 'the submit_sm_resp comes after the submit_sm');
    // one journey: the ids learned from the MESSAGE name every later line
    const callId = lines[msgIn].match(/call-id=(\S+)/)[1];
    assert.match(lines[accepted], new RegExp(`call-id=${callId.replace(/[.]/g, '\\.')}`));
    const env = lines[route].match(/env=(\S+)/)[1];
    assert.ok(lines.some((l) => / STATE .* submitted: smsc-\d+  env=/.test(l) && l.includes(`env=${env}`)),
      c.out);
    // the other message never shows: not its number, not its submit_sm, not its envelope
    assert.ok(!c.out.includes(OTHER), `the other number leaked into the trace:\n${c.out}`);
    assert.equal(lines.filter((l) => / submit_sm seq /.test(l)).length, 1, c.out);
    assert.equal(new Set(lines.map((l) => (l.match(/env=(\S+)/) || [])[1]).filter(Boolean)).size, 1,
      c.out);

    // and back: the SMSC's delivery receipt quotes the message_id the trace learned
    const remote = smsc.submits[1].smsc_message_id;
    const dr = await smsc.deliver({
      esm_class: 0x04, source_addr: TRACED, destination_addr: 'alice',
      short_message: `id:${remote} sub:001 dlvrd:001 submit date:2611281200 done date:2611281201 stat:DELIVRD err:000 text:Hello`,
    });
    assert.equal(dr.command_status, 0);
    await waitFor(() => / STATE .* receipt DELIVRD( |$)/m.test(c.out) && /deliver_sm_resp/.test(c.out), 10000,
      `the receipt in the console:\n${c.out}`);
    const later = c.out.trim().split('\n').slice(lines.length);
    const dlv = later.findIndex((l) => / SMPP +<- in .* deliver_sm seq \d+ from 4915112345678 to alice  system_id=junction$/.test(l));
    const dlvResp = later.findIndex((l) => / SMPP +-> out .* deliver_sm_resp seq \d+ status 0x0  system_id=junction$/.test(l));
    assert.ok(dlv >= 0 && dlvResp > dlv, `the receipt and its answer:\n${later.join('\n')}`);

    c.proc.kill('SIGINT');
    const ex = await c.done;
    assert.equal(ex.code, 0, c.err);
    assert.match(c.err, /trace \d+ stopped after \d+ record\(s\)/);
    assert.deepEqual(await activeTraces(), [], 'junctionctl stopped its trace on SIGINT');
  } finally {
    if (c.exited === null) { c.proc.kill('SIGINT'); await c.done; }
  }
});

test('--seconds ends the console and stops its trace', async () => {
  const c = startConsole(['trace', 'to=4477', '--seconds', '1']);
  const ex = await c.done;
  assert.equal(ex.code, 0, c.err);
  assert.equal(c.out, '', 'nothing to 4477 happened');
  assert.deepEqual(await activeTraces(), []);
});

test('SIP over TCP is traced both ways, raw bytes on request', async () => {
  const { id } = await j.mi('trace.start', { to: '4917000000001' });
  try {
    await sendMessage('4917000000001', 'tcp', ['-t', 't1']);
    const got = await waitFor(async () => {
      const r = await j.mi('trace.list', { id, after: 0, raw: true });
      return r.records.some((x) => x.kind === 'packet' && x.dir === 'out') && r;
    }, 10000, 'the 202 over TCP in the trace');
    const packets = got.records.filter((x) => x.kind === 'packet');
    assert.deepEqual(packets.map((x) => [x.dir, x.summary.split(' ')[0]]),
      [['in', 'MESSAGE'], ['out', 'SIP/2.0']]);
    assert.equal(packets[0].call_id, packets[1].call_id);
    const raw = Buffer.from(packets[0].raw, 'base64');
    assert.ok(raw.toString().startsWith('MESSAGE sip:+4917000000001@'), raw.toString());
    assert.match(raw.toString(), new RegExp(`^Call-ID: ${packets[0].call_id}\\r$`, 'm'));
    assert.equal(raw.length, Math.min(packets[0].raw_len, 512));
    assert.equal(got.next, got.records.length);
  } finally {
    await j.mi('trace.stop', { id });
  }
});

test('trace.start needs a filter; trace.list and trace.stop know only live traces', async () => {
  await assert.rejects(j.mi('trace.start', {}), (e) => e.rpc.code === -32602);
  await assert.rejects(j.mi('trace.start', { to: 'abc' }), (e) => e.rpc.code === -32602);
  const { id } = await j.mi('trace.start', { to: '+4915' });
  const list = await j.mi('trace.list');
  assert.deepEqual(list.map((t) => [t.id, t.filter]), [[id, { to: '4915' }]]);
  const empty = await j.mi('trace.list', { id, after: 0 });
  assert.deepEqual([empty.records, empty.next, empty.lost], [[], 0, 0]);
  assert.deepEqual(await j.mi('trace.stop', { id }), { stopped: true });
  await assert.rejects(j.mi('trace.stop', { id }), (e) => e.rpc.code === -32004);
  await assert.rejects(j.mi('trace.list', { id }), (e) => e.rpc.code === -32004);
});

test('trace.max bounds the traces running at once', async () => {
  await j.mi('params.set', { name: 'trace.max', value: '2' });
  const a = await j.mi('trace.start', { connector: 'smsc1' });
  const b = await j.mi('trace.start', { peer: '127.0.0.1' });
  await assert.rejects(j.mi('trace.start', { to: '1' }), (e) => e.rpc.code === -32009);
  await j.mi('trace.stop', a);
  await j.mi('trace.stop', b);
  await j.mi('params.set', { name: 'trace.max', value: '8' });
});

test('the trace counters are statistics', async () => {
  const { counters } = await j.mi('stats.get');
  assert.ok(counters['trace.offered'] > 0, JSON.stringify(counters));
  assert.ok(counters['trace.matched'] > 0);
  assert.equal(counters['trace.active'], 0);
  assert.equal(typeof counters['trace.dropped'], 'number');
});

// One junctionctl call over the socket; resolves {code, stdout, stderr, ms}.
async function ctl(args) {
  const t0 = Date.now();
  try {
    const { stdout, stderr } = await promisify(execFile)(JUNCTIONCTL_BIN,
      ['--socket', j.params['mi.socket'], ...args]);
    return { code: 0, stdout, stderr, ms: Date.now() - t0 };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, ms: Date.now() - t0 };
  }
}

test('trace.list with wait_ms answers at the first record, and empty when the wait ends', async () => {
  const { id } = await j.mi('trace.start', { to: '4917000000002' });
  try {
    let t0 = Date.now();
    const empty = await j.sock('trace.list', { id, after: 0, wait_ms: 400 });
    const waited = Date.now() - t0;
    assert.deepEqual([empty.records, empty.next], [[], 0]);
    assert.ok(waited >= 380 && waited < 3000, `an empty long poll lasts its wait: ${waited} ms`);

    t0 = Date.now();
    const poll = j.sock('trace.list', { id, after: 0, wait_ms: 20000 });
    await sendMessage('4917000000002', 'longpoll');
    const got = await poll;
    assert.ok(got.records.length >= 1 && got.records[0].kind === 'packet', JSON.stringify(got));
    assert.ok(Date.now() - t0 < 10000, 'answered when the MESSAGE came, not after 20 s');
    assert.ok(Number.isInteger(got.records[0].time_us) &&
      Math.floor(got.records[0].time_us / 1000) === got.records[0].time, 'time_us and time agree');

    // over HTTP a wait is capped (it would hold one of the two pool threads)
    const quiet = await j.mi('trace.start', { to: '4917000000099' });
    t0 = Date.now();
    const capped = await j.mi('trace.list', { id: quiet.id, after: 0, wait_ms: 20000 });
    await j.mi('trace.stop', { id: quiet.id });
    assert.deepEqual(capped.records, []);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 4000, `an HTTP long poll waits, capped at 1 s: ${took} ms`);
    await assert.rejects(j.mi('trace.list', { id, wait_ms: 30001 }), (e) => e.rpc.code === -32602);
    await assert.rejects(j.mi('trace.list', { id, wait_ms: -1 }), (e) => e.rpc.code === -32602);
  } finally {
    await j.mi('trace.stop', { id });
  }
});

test('a long poll holds neither the MI lock nor the socket\'s loop, and trace.stop ends it', async () => {
  const { id } = await j.mi('trace.start', { to: '4917000000003' });
  let stopped = false;
  try {
    const params = JSON.stringify({ id, after: 0, wait_ms: 15000 });
    // two long polls over the UNIX socket (junctionctl call, and a direct client)
    const sockPoll = ctl(['call', 'trace.list', params]);
    const httpPoll = j.sock('trace.list', { id, after: 0, wait_ms: 15000 }).then(() => null, (e) => e);
    // asked over the socket: an HTTP call could queue behind the HTTP poll's
    // pool thread (libmicrohttpd pins a connection to one of its two threads)
    await waitFor(async () => JSON.parse((await ctl(['--json', 'trace', 'list'])).stdout)
      .find((t) => t.id === id)?.waiting === 2, 5000, 'both polls waiting');
    // another socket client, and a method that runs under the MI lock
    const v = await ctl(['system', 'version']);
    assert.equal(v.code, 0, v.stderr);
    assert.ok(v.ms < 2000, `the socket answered another client in ${v.ms} ms`);
    const l = await ctl(['--json', 'trace', 'list']);
    assert.equal(JSON.parse(l.stdout)[0].id, id, 'trace.list without id meanwhile');

    const stopAt = Date.now();
    await ctl(['trace', 'stop', `id=${id}`]);
    stopped = true;
    const [s, h] = await Promise.all([sockPoll, httpPoll]);
    assert.ok(Date.now() - stopAt < 3000, 'both waits ended with the trace');
    assert.equal(s.code, 1, `the socket poll ends with an MI error: ${s.stdout} ${s.stderr}`);
    assert.match(s.stderr, /32004/);
    assert.equal(h && h.rpc && h.rpc.code, -32004);
  } finally {
    if (!stopped) await j.mi('trace.stop', { id }).catch(() => {});
  }
});

test('the socket runs at most 8 long polls at once; the 9th is answered -32010 at once', async () => {
  const { id } = await j.mi('trace.start', { to: '4917000000008' });
  let stopped = false;
  try {
    const params = JSON.stringify({ id, after: 0, wait_ms: 20000 });
    const polls = [];
    for (let i = 0; i < 8; i++) polls.push(ctl(['call', 'trace.list', params]));
    await waitFor(async () => JSON.parse((await ctl(['--json', 'trace', 'list'])).stdout)
      .find((t) => t.id === id)?.waiting === 8, 10000, 'eight polls waiting');
    const ninth = await ctl(['call', 'trace.list', params]);
    assert.equal(ninth.code, 1, ninth.stdout);
    assert.match(ninth.stderr, /32010/);
    assert.ok(ninth.ms < 5000, `refused at once (${ninth.ms} ms)`);
    await ctl(['trace', 'stop', `id=${id}`]);
    stopped = true;
    for (const p of await Promise.all(polls)) assert.match(p.stderr, /32004/);
  } finally {
    if (!stopped) await j.mi('trace.stop', { id }).catch(() => {});
  }
});

test('a trace whose client vanished ends after trace.idle_s', async () => {
  await j.mi('params.set', { name: 'trace.idle_s', value: '1' });
  try {
    const c = startConsole(['trace', 'to=4917000000004']);
    await waitFor(async () => (await activeTraces()).length === 1, 10000, 'the console\'s trace');
    c.proc.kill('SIGKILL'); // no trace.stop
    await c.done;
    await waitFor(async () => (await activeTraces()).length === 0, 10000,
      'the trace ended by itself');
  } finally {
    await j.mi('params.set', { name: 'trace.idle_s', value: '30' });
  }
});

test('junctionctl trace combines filters: system_id, to, connector, peer, env_id', async () => {
  // an SMSC that holds its submit_sm_resp until the test lets it go: the
  // message is still on its way when a trace by its envelope id starts
  const held = await startScriptedSmsc('held', (session, pdu, h) => h.submits.push({ session, pdu }));
  await j.mi('connectors.add', {
    name: 'held', type: 'smpp',
    conf: { host: '127.0.0.1', port: held.port, system_id: 'junction', password: 'secret' },
  });
  const route = await j.mi('routes.add', { name: 'mt-held', priority: 5, dst_prefix: '4918', target: 'held' });
  await waitBound(j, 'held');
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  const { session } = await bindCustomer(j.ports.smpp, 'acme', 'right');
  const DEST = '4918000000005';
  const bySystem = startConsole(['trace', 'system_id=acme', '--seconds', '20']);
  const sysOther = startConsole(['trace', 'system_id=acme', 'to=4930000000000', '--seconds', '20']);
  const heldSide = startConsole(['trace', `to=${DEST}`, 'connector=held',
    `peer=127.0.0.1:${held.port}`, '--seconds', '20']);
  try {
    await waitFor(async () => (await activeTraces()).length === 3, 10000, 'three traces');
    const resp = await submit(session, { source_addr: 'acme1', destination_addr: DEST,
      short_message: 'combined filters' });
    assert.equal(resp.command_status, 0);
    await waitFor(() => held.submits.length === 1 && /submit_sm seq/.test(heldSide.out) &&
      /STATE .* sending/.test(bySystem.out), 10000,
      `the submit_sm held at the SMSC:\n${bySystem.out}\n--\n${heldSide.out}`);

    // system_id=acme: the customer's submit_sm and its answer, then the message inside
    assert.match(bySystem.out, new RegExp(`SMPP +<- in  +account:acme 127\\.0\\.0\\.1:\\d+ +submit_sm seq \\d+ from acme1 to ${DEST}  system_id=acme`));
    assert.match(bySystem.out, /SMPP +-> out +account:acme .*submit_sm_resp seq \d+ status 0x0 message_id \S+  system_id=acme/);
    assert.match(bySystem.out, /ROUTE .* rule mt-held -> held/);
    // to= and another number: nothing of acme's message
    assert.equal(sysOther.out, '', `system_id with another number kept nothing:\n${sysOther.out}`);
    // connector + peer + to: only the SMSC side, none of the customer's PDUs
    assert.match(heldSide.out, new RegExp(`SMPP +-> out +held 127\\.0\\.0\\.1:${held.port} +submit_sm seq \\d+ from acme1 to ${DEST}  system_id=junction`));
    assert.ok(!/account:acme/.test(heldSide.out), `nothing of the customer side:\n${heldSide.out}`);

    // env_id + connector: traces started now follow the rest of that one message
    const env = bySystem.out.match(/ROUTE .*env=(\S+)/)[1];
    const byEnv = startConsole(['trace', `env_id=${env}`, 'connector=held', '--seconds', '20']);
    const wrongConn = startConsole(['trace', `env_id=${env}`, 'connector=smsc1', '--seconds', '20']);
    const wrongTo = startConsole(['trace', `env_id=${env}`, 'to=4930000000000', '--seconds', '20']);
    await waitFor(async () => (await activeTraces()).length === 6, 10000, 'six traces');
    const { session: hs, pdu } = held.submits[0];
    hs.send(pdu.response({ message_id: 'held-1' }));
    await waitFor(() => / STATE .* submitted: held-1  env=/.test(byEnv.out) &&
      /submit_sm_resp .* message_id held-1/.test(heldSide.out), 10000,
      `submitted, by env and on the SMSC side:\n${byEnv.out}\n--\n${heldSide.out}`);
    assert.ok(byEnv.out.trim().split('\n').slice(1).every((l) => l.includes(`env=${env}`)), byEnv.out);
    for (const c of [bySystem, sysOther, heldSide, byEnv, wrongConn, wrongTo]) c.proc.kill('SIGINT');
    for (const c of [bySystem, sysOther, heldSide, byEnv, wrongConn, wrongTo])
      assert.equal((await c.done).code, 0, c.err);
    assert.equal(wrongConn.out, '', `env_id with another connector kept nothing:\n${wrongConn.out}`);
    assert.equal(wrongTo.out, '', `env_id with another number kept nothing:\n${wrongTo.out}`);
    assert.equal(sysOther.out, '');
    assert.deepEqual(await activeTraces(), []);
  } finally {
    for (const c of consoles) if (c.exited === null) { c.proc.kill('SIGINT'); await c.done; }
    session.close();
    await j.mi('routes.delete', { id: route.id });
    await held.stop();
  }
});

test('a shutdown ends the long polls at once instead of waiting for them', async () => {
  const k = await startJunction();
  try {
    const { id } = await k.mi('trace.start', { to: '4917000000009' });
    const t0 = Date.now();
    const sockPoll = promisify(execFile)(JUNCTIONCTL_BIN, ['--socket', k.params['mi.socket'], 'call',
      'trace.list', JSON.stringify({ id, after: 0, wait_ms: 30000 })]).then(() => 'answered', (e) => e.code);
    const httpPoll = k.mi('trace.list', { id, after: 0, wait_ms: 30000 }).then(() => 'answered', (e) => e.rpc?.code ?? 'closed');
    await waitFor(async () => {
      const { stdout } = await promisify(execFile)(JUNCTIONCTL_BIN, ['--socket', k.params['mi.socket'],
        '--json', 'trace', 'list']);
      return JSON.parse(stdout)[0]?.waiting === 2;
    }, 5000, 'both polls waiting');
    const ex = await k.stop();
    assert.equal(ex.code, 0, k.log);
    assert.ok(Date.now() - t0 < 8000, `junction stopped in ${Date.now() - t0} ms, not after the 30 s waits`);
    assert.notEqual(await sockPoll, 'answered');
    assert.notEqual(await httpPoll, 'answered');
  } finally {
    await k.cleanup();
  }
});
