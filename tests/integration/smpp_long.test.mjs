// Long messages over SMPP (issue 7): a customer's own segmentation (8-bit
// or 16-bit concatenation UDH, or SAR TLVs) reaches the operator with the
// same reference, total and sequence; a text junction must split itself is
// split as the client connector's `long` conf says ("udh", "udh16", "sar",
// "payload"); a retried message resends the same reference; and receipts
// are matched by their receipted_message_id / message_state TLVs and by an
// id that differs only in case and leading zeros.  The operator is the fake
// SMSC of lib/smsc.mjs (or, where the message ids matter, a small one here);
// customers are npm smpp sessions.  The npm smpp decoder gives a submit_sm
// with UDHI set as short_message {udh: [IE buffers: IEI, length, data...],
// message: text}.  Loopback only; every wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, bindCustomer, submit, waitBound, startScriptedSmsc } from './lib/smsc.mjs';

const SMPP_PARAMS = { 'smpp.reconnect_s': 1, 'smpp.enquire_link_s': 2 };
const ESME_RTHROTTLED = 0x58;
const UDHI = 0x40;
const MSG_STATE_DELIVERED = 2;
const MSG_STATE_UNDELIVERABLE = 5;

// 400 GSM characters of numbered words ("w001 w002 ..."), so a part lost,
// doubled or out of order shows in the diff.
const LONG_TEXT = Array.from({ length: 80 }, (_, i) => `w${String(i + 1).padStart(3, '0')} `).join('').slice(0, 400);

async function addConnector(j, name, port, extra = {}) {
  await j.mi('connectors.add', {
    name, type: 'smpp',
    conf: { host: '127.0.0.1', port, system_id: `jx-${name}`, password: 'secret', ...extra },
  });
  await waitBound(j, name);
}

async function customer(j, id = 'cust1', pw = 'pw1') {
  await j.mi('accounts.add', { system_id: id, password: pw });
  const { session, resp } = await bindCustomer(j.ports.smpp, id, pw);
  assert.equal(resp.command_status, 0, 'customer bind accepted');
  return session;
}

// The concatenation IE of a submit_sm's UDH: {bits, ref, total, seq}, or
// null when it has none (or UDHI is not set: npm smpp then leaves it unparsed).
function concatOf(pdu) {
  const sm = pdu.short_message;
  if (!sm || !Array.isArray(sm.udh)) return null;
  for (const ie of sm.udh) {
    if (ie[0] === 0x00 && ie[1] === 3) return { bits: 8, ref: ie[2], total: ie[3], seq: ie[4] };
    if (ie[0] === 0x08 && ie[1] === 4) return { bits: 16, ref: ie.readUInt16BE(2), total: ie[4], seq: ie[5] };
  }
  return null;
}

const textOf = (v) => {
  if (v == null) return '';
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  return textOf(v.message);
};

// The 8-bit (IEI 0x00) and 16-bit (IEI 0x08) concatenation UDHs, UDHL first.
const udh8 = (ref, total, seq) => Buffer.from([0x05, 0x00, 0x03, ref, total, seq]);
const udh16 = (ref, total, seq) => Buffer.from([0x06, 0x08, 0x04, ref >> 8, ref & 0xff, total, seq]);

// Wait for n submit_sm to dst at the SMSC; returns them.
const partsTo = (smsc, dst, n, timeoutMs = 10000) => waitFor(() => {
  const ps = smsc.submits.filter((p) => p.destination_addr === dst);
  return ps.length >= n && ps;
}, timeoutMs, `${n} submit_sm to ${dst} at the SMSC`);

const waitStatus = (j, id, status, timeoutMs = 10000) => waitFor(async () => {
  const m = await j.mi('messages.get', { id });
  return m.status === status && m;
}, timeoutMs, `message ${id} ${status}`);

// Each part carries UDHI and a UDH of `bits` with one reference, the total
// n and the sequence 1..n; returns {ref, text} (text: the parts in order).
function checkUdhParts(parts, n, bits) {
  assert.equal(parts.length, n, `${n} submit_sm`);
  const cs = parts.map((p) => {
    assert.ok(p.esm_class & UDHI, `esm_class has UDHI (got 0x${p.esm_class.toString(16)})`);
    const c = concatOf(p);
    assert.ok(c, `a concatenation IE in the UDH of ${JSON.stringify(p.short_message)}`);
    return { ...c, pdu: p };
  }).sort((a, b) => a.seq - b.seq);
  for (const c of cs) {
    assert.equal(c.bits, bits, `a ${bits}-bit concatenation IE`);
    assert.equal(c.total, n, 'total segments');
    assert.equal(c.ref, cs[0].ref, 'one reference across the parts');
  }
  assert.deepEqual(cs.map((c) => c.seq), Array.from({ length: n }, (_, i) => i + 1), 'sequence 1..n');
  return { ref: cs[0].ref, texts: cs.map((c) => textOf(c.pdu.short_message)),
    text: cs.map((c) => textOf(c.pdu.short_message)).join('') };
}

// --- 1. a customer's own segmentation is kept -----------------------------

test('a customer\'s 8-bit UDH long message reaches the SMSC with the same reference, total and sequence', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop()); // registered first: runs even if junction fails to start
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addConnector(j, 'op1', smsc.port);
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  const cust = await customer(j);
  t.after(() => cust.close());

  const texts = ['The first part of a message split by the customer itself, ',
    'and the second part of it.'];
  const dst = '447700900201';
  for (let i = 0; i < texts.length; i++) {
    const r = await submit(cust, {
      source_addr_ton: 1, source_addr_npi: 1, source_addr: '4930111',
      dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: dst,
      esm_class: UDHI, data_coding: 0,
      short_message: { udh: udh8(0x5a, 2, i + 1), message: texts[i] },
    });
    assert.equal(r.command_status, 0, `part ${i + 1} accepted`);
  }
  const got = checkUdhParts(await partsTo(smsc, dst, 2), 2, 8);
  assert.equal(got.ref, 0x5a, 'the customer\'s reference');
  assert.deepEqual(got.texts, texts, 'the text of each part intact');
});

test('a customer\'s 16-bit UDH long message reaches the SMSC with the same 16-bit reference', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addConnector(j, 'op1', smsc.port);
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  const cust = await customer(j);
  t.after(() => cust.close());

  const texts = ['Part one of three, ', 'part two of three, ', 'and part three.'];
  const dst = '447700900202';
  for (let i = 0; i < texts.length; i++) {
    const r = await submit(cust, {
      source_addr_ton: 1, source_addr_npi: 1, source_addr: '4930111',
      dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: dst,
      esm_class: UDHI, data_coding: 0,
      short_message: { udh: udh16(0x1234, 3, i + 1), message: texts[i] },
    });
    assert.equal(r.command_status, 0, `part ${i + 1} accepted`);
  }
  const got = checkUdhParts(await partsTo(smsc, dst, 3), 3, 16);
  assert.equal(got.ref, 0x1234, 'the customer\'s 16-bit reference');
  assert.deepEqual(got.texts, texts, 'the text of each part intact');
});

test('a customer\'s SAR-segmented message goes out with the connector\'s default UDH: 8-bit below 256, 16-bit above', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addConnector(j, 'op1', smsc.port);
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  const cust = await customer(j);
  t.after(() => cust.close());

  const texts = ['SAR part one, ', 'SAR part two.'];
  const cases = [{ dst: '447700900203', ref: 0x2a, bits: 8 }, { dst: '447700900204', ref: 0x1234, bits: 16 }];
  for (const c of cases) {
    for (let i = 0; i < texts.length; i++) {
      const r = await submit(cust, {
        source_addr_ton: 1, source_addr_npi: 1, source_addr: '4930111',
        dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: c.dst, data_coding: 0,
        short_message: texts[i],
        sar_msg_ref_num: c.ref, sar_total_segments: 2, sar_segment_seqnum: i + 1,
      });
      assert.equal(r.command_status, 0, `SAR part ${i + 1} (ref ${c.ref}) accepted`);
    }
  }
  for (const c of cases) {
    const got = checkUdhParts(await partsTo(smsc, c.dst, 2), 2, c.bits);
    assert.equal(got.ref, c.ref, `the customer's SAR reference ${c.ref} as a ${c.bits}-bit UDH`);
    assert.deepEqual(got.texts, texts, 'the text of each part intact');
  }
});

// --- 2. the connector's `long` conf: how junction splits ------------------

async function splitSetup(t, long) {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addConnector(j, 'op1', smsc.port, long === undefined ? {} : { long });
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  return { smsc, j };
}

async function injectLong(j, to) {
  const r = await j.mi('messages.inject', { from: '447700900001', to, body: LONG_TEXT, registered_delivery: 1 });
  assert.equal(r.target, 'op1');
  return r;
}

test('a 400-character GSM text is split into 3 parts with an 8-bit UDH by default', async (t) => {
  const { smsc, j } = await splitSetup(t, undefined);
  const dst = '447700900301';
  const r = await injectLong(j, dst);
  await waitStatus(j, r.id, 'submitted');
  const got = checkUdhParts(await partsTo(smsc, dst, 3), 3, 8);
  for (const s of got.texts) assert.ok(s.length <= 153, `at most 153 GSM characters a part (got ${s.length})`);
  assert.equal(got.text, LONG_TEXT, 'the parts reassemble to the body');
});

test('long "udh" splits with an 8-bit UDH (IEI 0x00)', async (t) => {
  const { smsc, j } = await splitSetup(t, 'udh');
  const dst = '447700900302';
  const r = await injectLong(j, dst);
  await waitStatus(j, r.id, 'submitted');
  const got = checkUdhParts(await partsTo(smsc, dst, 3), 3, 8);
  for (const s of got.texts) assert.ok(s.length <= 153, `at most 153 GSM characters a part (got ${s.length})`);
  assert.equal(got.text, LONG_TEXT, 'the parts reassemble to the body');
});

test('long "udh16" splits with a 16-bit reference UDH (IEI 0x08)', async (t) => {
  const { smsc, j } = await splitSetup(t, 'udh16');
  const dst = '447700900303';
  const r = await injectLong(j, dst);
  await waitStatus(j, r.id, 'submitted');
  const got = checkUdhParts(await partsTo(smsc, dst, 3), 3, 16);
  // a 7-octet UDH leaves 133 octets: 152 septets
  for (const s of got.texts) assert.ok(s.length <= 152, `at most 152 GSM characters a part (got ${s.length})`);
  assert.equal(got.text, LONG_TEXT, 'the parts reassemble to the body');
});

test('long "sar" splits with sar_* TLVs and no UDH', async (t) => {
  const { smsc, j } = await splitSetup(t, 'sar');
  const dst = '447700900304';
  const r = await injectLong(j, dst);
  await waitStatus(j, r.id, 'submitted');
  const parts = await partsTo(smsc, dst, 3);
  assert.equal(parts.length, 3, '3 submit_sm');
  for (const p of parts) {
    assert.equal(p.esm_class & UDHI, 0, 'no UDHI in esm_class');
    assert.equal(concatOf(p), null, 'no UDH');
    assert.equal(p.sar_total_segments, 3, 'sar_total_segments');
    assert.equal(p.sar_msg_ref_num, parts[0].sar_msg_ref_num, 'one sar_msg_ref_num across the parts');
  }
  assert.equal(typeof parts[0].sar_msg_ref_num, 'number', 'sar_msg_ref_num present');
  const sorted = [...parts].sort((a, b) => a.sar_segment_seqnum - b.sar_segment_seqnum);
  assert.deepEqual(sorted.map((p) => p.sar_segment_seqnum), [1, 2, 3], 'sar_segment_seqnum 1..3');
  assert.equal(sorted.map((p) => textOf(p.short_message)).join(''), LONG_TEXT, 'the parts reassemble to the body');
});

test('long "payload" sends one submit_sm with sm_length 0 and the whole text in message_payload', async (t) => {
  const { smsc, j } = await splitSetup(t, 'payload');
  const dst = '447700900305';
  const r = await injectLong(j, dst);
  await waitStatus(j, r.id, 'submitted');
  const [p] = await partsTo(smsc, dst, 1);
  assert.equal(smsc.submits.filter((x) => x.destination_addr === dst).length, 1, 'one submit_sm');
  // npm smpp keeps no sm_length field: an empty decoded short_message with
  // no UDH is sm_length 0 (any octet would decode to a character)
  assert.equal(textOf(p.short_message), '', 'sm_length 0: short_message empty');
  assert.equal(concatOf(p), null, 'no UDH');
  assert.equal(p.esm_class & UDHI, 0, 'no UDHI');
  assert.equal(p.sar_msg_ref_num, undefined, 'no SAR TLVs');
  assert.ok(p.message_payload != null, 'a message_payload TLV');
  assert.equal(textOf(p.message_payload), LONG_TEXT, 'message_payload holds the whole body');
});

test('connectors.add refuses an unknown long value with an MI error', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await assert.rejects(j.mi('connectors.add', {
    name: 'bad', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx-bad', password: 'secret', long: 'x' },
  }), (e) => !!e.rpc, 'long: "x" is an MI error');
  assert.ok(!(await j.mi('connectors.list')).some((c) => c.name === 'bad'), 'nothing added');
});

// --- 3. a retry resends the same reference --------------------------------

test('a long message retried after a throttled part resends its parts with the same UDH reference', async (t) => {
  const seen = []; // every submit_sm, accepted or not, with its answer
  let refused = -1;
  const smsc = await startSmsc({ submitStatus: (pdu) => {
    let status = 0;
    const c = concatOf(pdu);
    if (refused < 0 && c && c.seq === 2) { refused = seen.length; status = ESME_RTHROTTLED; }
    seen.push({ pdu, c, status });
    return status;
  } });
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { ...SMPP_PARAMS, 'core.retry_base_ms': 100, 'core.retry_max_ms': 500 } });
  t.after(() => j.cleanup());
  await addConnector(j, 'op1', smsc.port);
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });

  const dst = '447700900401';
  const r = await injectLong(j, dst);
  await waitFor(() => refused >= 0, 10000, 'the 2nd part refused with ESME_RTHROTTLED');
  await waitFor(() => seen.slice(refused + 1).some((s) => s.c && s.c.seq === 2 && s.status === 0), 15000,
    'the 2nd part sent again and accepted');
  await waitStatus(j, r.id, 'submitted', 15000);

  const first = seen[refused].c;
  assert.equal(first.total, 3, '3 parts');
  for (const s of seen) {
    assert.ok(s.c, `every submit_sm carries a concatenation UDH: ${JSON.stringify(s.pdu.short_message)}`);
    assert.equal(s.c.bits, first.bits, 'the same UDH form');
    assert.equal(s.c.ref, first.ref, `the same reference on every attempt (part ${s.c.seq})`);
    assert.equal(s.c.total, 3, 'the same total');
  }
  // the last accepted copy of each part reassembles to the body
  const last = new Map();
  for (const s of seen) if (s.status === 0) last.set(s.c.seq, textOf(s.pdu.short_message));
  assert.deepEqual([...last.keys()].sort(), [1, 2, 3], 'every part accepted');
  assert.equal([1, 2, 3].map((k) => last.get(k)).join(''), LONG_TEXT, 'the parts reassemble to the body');
});

// --- 4. receipts matched by TLV and tolerant ids --------------------------

// An SMSC whose submit_sm_resp message_id is messageId(pdu) (lib/smsc.mjs
// numbers them smsc-N).  Records accepted submits in `submits`; deliver()
// sends a deliver_sm on the bound session and resolves with its response.
async function startIdSmsc(messageId) {
  return startScriptedSmsc('id-smsc', (session, pdu, s) => {
    pdu.smsc_message_id = messageId(pdu);
    s.submits.push(pdu);
    session.send(pdu.response({ message_id: pdu.smsc_message_id }));
  });
}

async function receiptSetup(t, ids) {
  const smsc = await startIdSmsc((pdu) => ids[pdu.destination_addr] || 'FFFF');
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addConnector(j, 'op1', smsc.port);
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  const send = async (to, body) => {
    const r = await j.mi('messages.inject', { from: '447700900001', to, body, registered_delivery: 1 });
    await partsTo(smsc, to, 1);
    await waitStatus(j, r.id, 'submitted');
    return r.id;
  };
  return { smsc, j, send };
}

test('a receipt with only receipted_message_id and message_state TLVs delivers (state 2) or fails (state 5) its message', async (t) => {
  const { smsc, j, send } = await receiptSetup(t, { '447700900501': '00AB12', '447700900502': '00CD34' });
  const ok = await send('447700900501', 'tlv receipt, delivered');
  const bad = await send('447700900502', 'tlv receipt, undeliverable');

  // empty short_message: the TLVs alone
  let resp = await smsc.deliver({ esm_class: 0x04, source_addr: '447700900501', destination_addr: '447700900001',
    data_coding: 0, short_message: Buffer.alloc(0),
    receipted_message_id: '00AB12', message_state: MSG_STATE_DELIVERED });
  assert.equal(resp.command_status, 0, 'junction acknowledged the receipt');
  await waitStatus(j, ok, 'delivered');

  // a text without id:/stat:, the TLVs carry the outcome
  resp = await smsc.deliver({ esm_class: 0x04, source_addr: '447700900502', destination_addr: '447700900001',
    data_coding: 0, short_message: 'a receipt without appendix B text',
    receipted_message_id: '00CD34', message_state: MSG_STATE_UNDELIVERABLE });
  assert.equal(resp.command_status, 0, 'junction acknowledged the receipt');
  await waitStatus(j, bad, 'failed');
  assert.equal((await j.mi('messages.get', { id: ok })).status, 'delivered', 'the other message untouched');
});

test('a receipt text id differing only in case and leading zeros matches its message', async (t) => {
  const { smsc, j, send } = await receiptSetup(t, { '447700900601': '00AB12' });
  const id = await send('447700900601', 'tolerant id');
  const text = (rid, stat) =>
    `id:${rid} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2612011200 ` +
    `done date:2612011201 stat:${stat} err:000 text:x`;

  // a different id first: it must not match (else the message would fail
  // before the right receipt comes)
  await smsc.deliver({ esm_class: 0x04, source_addr: '447700900601', destination_addr: '447700900001',
    short_message: text('ab13', 'UNDELIV') }).catch(() => null); // its answer is not the point
  const resp = await smsc.deliver({ esm_class: 0x04, source_addr: '447700900601',
    destination_addr: '447700900001', short_message: text('ab12', 'DELIVRD') });
  assert.equal(resp.command_status, 0, 'junction acknowledged the receipt');
  await waitStatus(j, id, 'delivered');
});
