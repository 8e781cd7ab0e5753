// HEPv3 export of a trace: trace.start with hep: "udp:127.0.0.1:<port>"
// sends every record the trace keeps to that collector.  The test is the
// collector: it receives the datagrams on a UDP socket, writes them into a
// pcap file (LINKTYPE_IPV4, as if captured on loopback: no capture
// privileges needed) and lets tshark decode them (lib/hep3.lua reads the
// HEP3 chunks, Wireshark's own SIP and SMPP dissectors read the payload).
// Checked: the chunks (family, protocol, addresses and ports by direction,
// timestamp, protocol type, agent id, correlation id) and the SIP MESSAGE,
// its 202 and the submit_sm inside; that the export leaves out what the
// filter leaves out; that a collector nobody listens on changes nothing for
// the message; and the bad destinations trace.start refuses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';
import { runSipp, stopAllSipp } from './lib/sipp.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

const run = promisify(execFile);
const TRACED = '4915199000001';
const OTHER = '4915199000002';
const HEP_LUA = path.resolve('lib/hep3.lua');

let j, smsc;

before(async () => {
  smsc = await startSmsc();
  j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  await j.mi('connectors.add', {
    name: 'smsc1', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' },
  });
  await j.mi('routes.add', { name: 'mt-de', priority: 10, dst_prefix: '49', target: 'smsc1' });
  await waitBound(j, 'smsc1');
});

after(async () => {
  await stopAllSipp();
  if (j) await j.cleanup();
  if (smsc) await smsc.stop();
});

// One MESSAGE from SIPp; returns the port SIPp sent it from.
const sendMessage = async (number, name) => {
  const localPort = await freePort();
  const h = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name, localPort,
    target: `127.0.0.1:${j.ports.sip}`, service: `+${number}`, calls: 1,
  });
  assert.equal(h.exited.code, 0, h.explain());
  return localPort;
};

// A UDP collector on 127.0.0.1: every datagram with its sender.
async function startCollector() {
  const sock = dgram.createSocket('udp4');
  const got = [];
  sock.on('message', (msg, rinfo) => got.push({ msg, port: rinfo.port, at: Date.now() }));
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { sock, got, port: sock.address().port, close: () => sock.close() };
}

// The datagrams as a pcap file of IPv4 packets from 127.0.0.1:srcPort to
// 127.0.0.1:dstPort (checksums 0: tshark does not check them by default).
function writePcap(file, datagrams, dstPort) {
  const parts = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(65535, 16);
  gh.writeUInt32LE(228, 20); // LINKTYPE_IPV4
  parts.push(gh);
  for (const d of datagrams) {
    const ip = Buffer.alloc(28);
    ip.writeUInt8(0x45, 0);
    ip.writeUInt16BE(28 + d.msg.length, 2);
    ip.writeUInt8(64, 8);
    ip.writeUInt8(17, 9);
    ip.set([127, 0, 0, 1], 12);
    ip.set([127, 0, 0, 1], 16);
    ip.writeUInt16BE(d.port, 20);
    ip.writeUInt16BE(dstPort, 22);
    ip.writeUInt16BE(8 + d.msg.length, 24);
    const ph = Buffer.alloc(16);
    ph.writeUInt32LE(Math.floor(d.at / 1000), 0);
    ph.writeUInt32LE((d.at % 1000) * 1000, 4);
    ph.writeUInt32LE(28 + d.msg.length, 8);
    ph.writeUInt32LE(28 + d.msg.length, 12);
    parts.push(ph, ip, d.msg);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

// tshark's reading of the pcap: one object of layers per packet.
async function decode(file, port) {
  const { stdout } = await run('tshark', ['-X', `lua_script:${HEP_LUA}`, '-r', file,
    '-d', `udp.port==${port},hep3`, '-T', 'json'], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout).map((p) => p._source.layers);
}

// A field of a layer, searched through the subtrees tshark nests it in.
function field(layer, name) {
  if (layer == null || typeof layer !== 'object') return undefined;
  if (name in layer) return layer[name];
  for (const v of Object.values(layer)) {
    const f = field(v, name);
    if (f !== undefined) return f;
  }
  return undefined;
}

const payloadText = (l) => Buffer.from(field(l.hep3, 'hep3.payload').replace(/:/g, ''), 'hex')
  .toString();

test('a trace with a hep destination sends its records as HEPv3 that tshark decodes, SIP inside', async () => {
  const col = await startCollector();
  const t0 = Math.floor(Date.now() / 1000);
  const { id } = await j.mi('trace.start', { to: TRACED, hep: `udp:127.0.0.1:${col.port}` });
  try {
    await sendMessage(OTHER, 'hep-other');
    await waitFor(() => smsc.submits.some((s) => s.destination_addr === OTHER), 10000,
      'the other submit_sm');
    const sippPort = await sendMessage(TRACED, 'hep-traced');
    await waitFor(async () => {
      const r = await j.mi('trace.list', { id, after: 0 });
      return r.records.some((x) => /submitted/.test(x.summary || ''));
    }, 10000, 'the traced message submitted');
    // one datagram per record kept, no more (late records may still come: wait for equality)
    await waitFor(async () => {
      const kept = (await j.mi('trace.list', { id, after: 0 })).records.length;
      return col.got.length === kept;
    }, 10000, `as many datagrams at the collector as records kept (got ${col.got.length})`);

    const file = path.join(j.dir, 'hep.pcap');
    writePcap(file, col.got, col.port);
    const pkts = await decode(file, col.port);
    if (process.env.TRACE_HEP_DUMP) console.log(JSON.stringify(pkts.slice(0, 2), null, 1));
    assert.equal(pkts.length, col.got.length);
    for (const l of pkts) {
      assert.ok(l.hep3, `every packet decodes as HEP3: ${JSON.stringify(l)}`);
      assert.equal(field(l.hep3, 'hep3.version'), 'HEP3');
      assert.equal(field(l.hep3, 'hep3.capture_id'), '2001');
      assert.equal(field(l.hep3, 'hep3.ip_family'), '2');
      assert.equal(field(l.hep3, 'hep3.unknown_chunk'), undefined, 'only known chunks');
      const sec = Number(field(l.hep3, 'hep3.ts_sec'));
      assert.ok(sec >= t0 && sec <= Math.ceil(Date.now() / 1000), `timestamp ${sec}`);
      assert.ok(Number(field(l.hep3, 'hep3.ts_usec')) < 1e6);
    }
    // the MESSAGE in: from SIPp's address to us, protocol type SIP, Call-ID as correlation
    const sip = pkts.filter((l) => l.sip);
    assert.equal(sip.length, 2, 'the MESSAGE and its 202');
    const [msg, ok] = sip;
    assert.equal(field(msg.sip, 'sip.Method'), 'MESSAGE');
    assert.match(field(msg.sip, 'sip.r-uri'), new RegExp(`^sip:\\+${TRACED}@`));
    assert.equal(field(msg.hep3, 'hep3.proto_type'), '1');
    assert.equal(field(msg.hep3, 'hep3.ip_proto'), '17');
    assert.equal(field(msg.hep3, 'hep3.src_ip'), '127.0.0.1');
    assert.equal(field(msg.hep3, 'hep3.src_port'), String(sippPort));
    assert.equal(field(msg.hep3, 'hep3.dst_ip'), '0.0.0.0');
    const callId = field(msg.sip, 'sip.Call-ID');
    assert.ok(callId, JSON.stringify(msg.sip));
    assert.equal(field(msg.hep3, 'hep3.correlation_id'), callId);
    // the 202 out: to SIPp, same Call-ID
    assert.match(field(ok.sip, 'sip.Status-Line'), /^SIP\/2\.0 202 /);
    assert.equal(field(ok.hep3, 'hep3.dst_ip'), '127.0.0.1');
    assert.equal(field(ok.hep3, 'hep3.dst_port'), field(msg.hep3, 'hep3.src_port'));
    assert.equal(field(ok.hep3, 'hep3.correlation_id'), callId);
    // the submit_sm out, as SMPP over TCP to the SMSC
    const smpp = pkts.filter((l) => l.smpp);
    const submit = smpp.find((l) => field(l.smpp, 'smpp.command_id') === '0x00000004');
    assert.ok(submit, `a submit_sm among ${smpp.length} SMPP payloads`);
    assert.equal(field(submit.smpp, 'smpp.destination_addr'), TRACED);
    assert.equal(field(submit.hep3, 'hep3.proto_type'), '62');
    assert.equal(field(submit.hep3, 'hep3.ip_proto'), '6');
    assert.equal(field(submit.hep3, 'hep3.dst_port'), String(smsc.port));
    // routing and states as LOG (100) text, correlated by the envelope id
    const logs = pkts.filter((l) => field(l.hep3, 'hep3.proto_type') === '100');
    const route = logs.find((l) => payloadText(l) === 'rule mt-de -> smsc1');
    assert.ok(route, logs.map(payloadText).join('\n'));
    assert.match(field(route.hep3, 'hep3.correlation_id'), /^(1-\d+@|[0-9A-Z]{26}$)/);
    // nothing of the other message
    assert.ok(!col.got.some((d) => d.msg.includes(OTHER)), 'the other number was not exported');
    const { counters } = await j.mi('stats.get');
    assert.ok(counters['trace.hep_sent'] >= col.got.length, JSON.stringify(counters));
    assert.equal(counters['trace.hep_dropped'], 0);
  } finally {
    await j.mi('trace.stop', { id });
    col.close();
  }
});

test('a collector nobody listens on costs the message nothing', async () => {
  const port = await freePort();
  const { id } = await j.mi('trace.start', { to: '4915199000003', hep: `udp:127.0.0.1:${port}` });
  try {
    const before = smsc.submits.length;
    await sendMessage('4915199000003', 'hep-nobody');
    await waitFor(() => smsc.submits.length === before + 1, 10000, 'the submit_sm');
    const r = await j.mi('trace.list', { id, after: 0 });
    assert.ok(r.records.length >= 3, 'the trace itself still keeps the journey');
  } finally {
    await j.mi('trace.stop', { id });
  }
});

test('trace.start refuses a hep destination that is not udp:<ip>:<port>', async () => {
  for (const hep of ['127.0.0.1:9060', 'tcp:127.0.0.1:9060', 'udp:localhost:9060',
    'udp:127.0.0.1:0', 'udp:127.0.0.1', 'udp:[::1:9060']) {
    await assert.rejects(j.mi('trace.start', { to: '49', hep }), (e) => e.rpc.code === -32602, hep);
  }
  assert.deepEqual(await j.mi('trace.list'), [], 'no trace was started');
  const { id } = await j.mi('trace.start', { to: '49', hep: 'udp:[::1]:9060' });
  assert.deepEqual((await j.mi('trace.list'))[0].filter, { to: '49', hep: 'udp:[::1]:9060' });
  await j.mi('trace.stop', { id });
});
