// GET /metrics as a Prometheus user reads it: after real traffic (SIPp
// sends SIP MESSAGEs, junction submits them to an SMSC peer over SMPP) the
// scrape passes `promtool check metrics` (the format and the naming
// conventions: _total counters, base units, HELP on every family), and it
// holds the labelled series per connector and per bind and the latency
// histograms with the counts of what happened.  promtool comes from the
// Debian package prometheus (.ci/deps.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';
import { runSipp, stopAllSipp } from './lib/sipp.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

const PROMTOOL = process.env.PROMTOOL || 'promtool';
const N = 3;
let j, smsc, opened; // opened: a scrape once the connector is bound, before any message
let hold = false; // while true the SMSC leaves submit_sm unanswered

// The text of one scrape.
async function scrape() {
  const r = await j.http('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return r.text();
}

// Samples of the exposition: [{name, labels: {..}, value}], and the
// families' types {name: type}.
function parse(text) {
  const samples = [], types = {};
  for (const line of text.split('\n')) {
    let m = line.match(/^# TYPE (\S+) (\S+)$/);
    if (m) { types[m[1]] = m[2]; continue; }
    if (line === '' || line.startsWith('#')) continue;
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(m, `a sample line: ${line}`);
    const labels = {};
    for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

// The value of the one sample of name whose labels include want, or
// undefined.
function value(parsed, name, want = {}) {
  const hits = parsed.samples.filter((s) => s.name === name &&
    Object.entries(want).every(([k, v]) => s.labels[k] === v) &&
    Object.keys(s.labels).length === Object.keys(want).length);
  assert.ok(hits.length <= 1, `one series ${name} ${JSON.stringify(want)}`);
  return hits[0]?.value;
}

// Wait for a scrape in which name{want} equals v; resolves with it parsed.
async function waitValue(name, want, v, what) {
  let last;
  return waitFor(async () => {
    last = parse(await scrape());
    return value(last, name, want) === v ? last : false;
  }, 10000, what || `${name}${JSON.stringify(want)} = ${v}`);
}

before(async () => {
  smsc = await startSmsc({ answer: () => !hold });
  j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  await j.mi('connectors.add', {
    name: 'smsc1', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret', window: 5 },
  });
  await j.mi('routes.add', { name: 'mt', priority: 10, dst_prefix: '49', target: 'smsc1' });
  await waitBound(j, 'smsc1');
  opened = parse(await scrape());
  const uac = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'uac', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, service: '+4915112345678', calls: N,
  });
  assert.equal(uac.exited.code, 0, uac.explain());
  await waitFor(() => smsc.submits.length === N, 10000, 'every submit_sm at the SMSC');
  // the outcomes commit after the submit_sm_resp: wait for the last one
  await waitValue('junction_connector_messages_submitted_total', { connector: 'smsc1' }, N);
});

after(async () => {
  await stopAllSipp();
  if (j) await j.cleanup();
  if (smsc) await smsc.stop();
});

test('a scrape after traffic passes promtool check metrics', async () => {
  const text = await scrape();
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ifError(r.error); // promtool missing: `make deps` installs it (package prometheus)
  assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint problem either');
});

test('every family is typed, counters end in _total and nothing is untyped', async () => {
  const { samples, types } = parse(await scrape());
  assert.ok(Object.keys(types).length > 50, 'the registry and the collectors are all there');
  for (const [name, type] of Object.entries(types)) {
    assert.match(name, /^junction_[a-z0-9_]+$/);
    assert.ok(['counter', 'gauge', 'histogram'].includes(type), `${name} ${type}`);
    assert.equal(type === 'counter', name.endsWith('_total'), `${name} is a ${type}`);
  }
  for (const s of samples) {
    const family = s.name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types[s.name] || types[family] === 'histogram', `${s.name} has a TYPE`);
  }
  assert.equal(types.junction_core_accepted_total, 'counter');
  assert.equal(types.junction_db_queue, 'gauge');
  assert.equal(types.junction_work_busy, 'gauge');
});

test('a connector has its series at 0 from its opening, before its first message', () => {
  const c = { connector: 'smsc1' };
  assert.equal(value(opened, 'junction_connector_queue_depth', c), 0);
  assert.equal(value(opened, 'junction_connector_messages_sent_total', c), 0);
  assert.equal(value(opened, 'junction_smpp_submit_seconds_count', c), 0);
  assert.equal(value(opened, 'junction_smpp_bind_up', { ...c, bind: '0' }), 1);
});

test('per-connector series count the messages sent to the SMSC connector', async () => {
  const p = parse(await scrape());
  const c = { connector: 'smsc1' };
  assert.equal(value(p, 'junction_connector_messages_sent_total', c), N);
  assert.equal(value(p, 'junction_connector_messages_submitted_total', c), N);
  assert.equal(value(p, 'junction_connector_messages_failed_total', c), 0);
  assert.equal(value(p, 'junction_connector_queue_depth', c), 0);
  assert.equal(value(p, 'junction_connector_in_flight', c), 0);
  assert.equal(value(p, 'junction_connector_enabled', { ...c, type: 'smpp' }), 1);
  assert.equal(value(p, 'junction_core_submitted_total'), N, 'the process-wide counter agrees');
});

test('per-bind series show the SMPP bind bound, its window and its submits', async () => {
  const p = parse(await scrape());
  const b = { connector: 'smsc1', bind: '0' };
  assert.equal(value(p, 'junction_smpp_bind_up', b), 1);
  assert.equal(value(p, 'junction_smpp_bind_state', { ...b, state: 'bound' }), 1);
  assert.equal(value(p, 'junction_smpp_bind_state', { ...b, state: 'down' }), 0);
  assert.equal(value(p, 'junction_smpp_bind_window', b), 5);
  assert.equal(value(p, 'junction_smpp_bind_window_in_use', b), 0);
  assert.equal(value(p, 'junction_smpp_bind_submitted_total', b), N);
  assert.equal(value(p, 'junction_smpp_bind_binds_total', b), 1);
});

// The buckets of histogram name{want}: cumulative, ending in +Inf = _count.
function checkHistogram(p, name, want) {
  const buckets = p.samples.filter((s) => s.name === `${name}_bucket` &&
    Object.entries(want).every(([k, v]) => s.labels[k] === v));
  assert.equal(buckets.length, 17, `${name} has its 16 bounds and +Inf`);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(Number(buckets[i].labels.le) > Number(buckets[i - 1].labels.le) ||
      buckets[i].labels.le === '+Inf');
    assert.ok(buckets[i].value >= buckets[i - 1].value, 'cumulative');
  }
  const count = value(p, `${name}_count`, want);
  assert.equal(buckets.at(-1).labels.le, '+Inf');
  assert.equal(buckets.at(-1).value, count);
  assert.ok(value(p, `${name}_sum`, want) > 0, `${name}_sum`);
  return count;
}

test('latency histograms count each SIP answer, each submit_sm_resp and each commit', async () => {
  const p = parse(await scrape());
  assert.equal(p.types.junction_smpp_submit_seconds, 'histogram');
  assert.equal(checkHistogram(p, 'junction_smpp_submit_seconds', { connector: 'smsc1' }), N);
  assert.equal(checkHistogram(p, 'junction_sip_message_answer_seconds', {}), N);
  const commits = checkHistogram(p, 'junction_db_commit_seconds', {});
  assert.equal(commits, value(p, 'junction_db_commits_total'), 'one observation per commit');
  assert.ok(commits >= N);
});

test('a submit_sm the SMSC holds shows in the bind window and in flight until answered', async () => {
  hold = true;
  const uac = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'uac-held', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, service: '+4915112345678', calls: 1,
  });
  assert.equal(uac.exited.code, 0, uac.explain());
  await waitFor(() => smsc.hung.length === 1, 10000, 'the held submit_sm');
  let p = await waitValue('junction_smpp_bind_window_in_use', { connector: 'smsc1', bind: '0' }, 1);
  assert.equal(value(p, 'junction_connector_in_flight', { connector: 'smsc1' }), 1);
  assert.equal(value(p, 'junction_connector_messages_sent_total', { connector: 'smsc1' }), N + 1);
  hold = false;
  const pdu = smsc.hung.shift();
  smsc.boundSession().send(pdu.response({ message_id: 'held-1' }));
  p = await waitValue('junction_connector_messages_submitted_total', { connector: 'smsc1' }, N + 1);
  assert.equal(value(p, 'junction_smpp_bind_window_in_use', { connector: 'smsc1', bind: '0' }), 0);
  assert.equal(value(p, 'junction_smpp_submit_seconds_count', { connector: 'smsc1' }), N + 1);
});

test('a lost SMSC shows as the bind down', async () => {
  await smsc.stop();
  const p = await waitValue('junction_smpp_bind_up', { connector: 'smsc1', bind: '0' }, 0);
  assert.equal(value(p, 'junction_smpp_bind_state', { connector: 'smsc1', bind: '0', state: 'bound' }), 0);
  assert.ok(value(p, 'junction_smpp_bind_lost_total', { connector: 'smsc1', bind: '0' }) >= 1);
});
