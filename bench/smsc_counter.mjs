// A minimal SMSC peer for the benchmark: raw TCP on 127.0.0.1, no npm
// package, no PDU kept in memory.  It answers bind_* and enquire_link,
// answers every submit_sm at once with a message_id, and only counts:
// submit_sm PDUs, the distinct messages they carry (keyed by destination
// and the "#N " number the SIPp scenario puts in front of the body, so a
// duplicate submit shows), those whose source_addr is not the expected one,
// and multi-part (UDHI) PDUs.  Each load step sends to its own destination
// numbers, so distinct(dst) tells what arrived of that step.
import net from 'node:net';

const RESP = 0x80000000;
const ID = { bind_rx: 0x1, bind_tx: 0x2, submit: 0x4, unbind: 0x6, bind_trx: 0x9, enquire: 0x15 };

function pdu(commandId, status, seq, body = Buffer.alloc(0)) {
  const h = Buffer.alloc(16);
  h.writeUInt32BE(16 + body.length, 0);
  h.writeUInt32BE(commandId >>> 0, 4);
  h.writeUInt32BE(status, 8);
  h.writeUInt32BE(seq, 12);
  return Buffer.concat([h, body]);
}

// C-string at buf[at]; returns [text, offset after the NUL].
function cstr(buf, at) {
  const end = buf.indexOf(0, at);
  if (end < 0) return ['', buf.length];
  return [buf.toString('latin1', at, end), end + 1];
}

// The fields the bench checks, from a submit_sm body (after the header).
function parseSubmit(b) {
  let at, src, dst;
  [, at] = cstr(b, 0);           // service_type
  at += 2;                       // source ton, npi
  [src, at] = cstr(b, at);
  at += 2;                       // dest ton, npi
  [dst, at] = cstr(b, at);
  const esm = b[at];
  at += 3;                       // esm_class, protocol_id, priority_flag
  [, at] = cstr(b, at);          // schedule_delivery_time
  [, at] = cstr(b, at);          // validity_period
  at += 4;                       // registered_delivery .. sm_default_msg_id
  const len = b[at];
  let text = b.toString('latin1', at + 1, at + 1 + len);
  if (esm & 0x40) text = text.slice(text.charCodeAt(0) + 1);   // skip the UDH
  const m = /^#(\d+) /.exec(text);
  return { src, dst, udhi: (esm & 0x40) !== 0, num: m ? m[1] : null };
}

// opts.expectSource: the source_addr every submit_sm should carry.
export async function startSmscCounter(opts = {}) {
  const s = {
    submits: 0, binds: 0, badSource: 0, multipart: 0, unnumbered: 0,
    byDst: new Map(), sockets: new Set(), server: null, port: 0, nextId: 1,
  };
  // Distinct messages seen for one destination (all of them without dst).
  s.distinct = (dst) => {
    if (dst !== undefined) return s.byDst.get(dst)?.size || 0;
    let n = 0;
    for (const set of s.byDst.values()) n += set.size;
    return n;
  };
  const onPdu = (sock, id, seq, body) => {
    switch (id) {
    case ID.bind_rx: case ID.bind_tx: case ID.bind_trx:
      s.binds++;
      sock.write(pdu(id | RESP, 0, seq, Buffer.from('bench-smsc\0', 'latin1')));
      break;
    case ID.submit: {
      s.submits++;
      const f = parseSubmit(body);
      if (opts.expectSource !== undefined && f.src !== opts.expectSource) s.badSource++;
      if (f.udhi) s.multipart++;
      if (f.num === null) s.unnumbered++;
      else {
        if (!s.byDst.has(f.dst)) s.byDst.set(f.dst, new Set());
        s.byDst.get(f.dst).add(f.num);
      }
      sock.write(pdu(ID.submit | RESP, 0, seq, Buffer.from(`b${s.nextId++}\0`, 'latin1')));
      break;
    }
    case ID.enquire:
      sock.write(pdu(ID.enquire | RESP, 0, seq));
      break;
    case ID.unbind:
      sock.write(pdu(ID.unbind | RESP, 0, seq));
      sock.end();
      break;
    default:
      if (!(id & RESP)) sock.write(pdu(RESP, 3, seq));   // generic_nack, invalid command id
    }
  };
  const server = net.createServer((sock) => {
    s.sockets.add(sock);
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('close', () => s.sockets.delete(sock));
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 16) {
        const len = buf.readUInt32BE(0);
        if (len < 16 || len > 65536) { sock.destroy(); return; }
        if (buf.length < len) break;
        onPdu(sock, buf.readUInt32BE(4), buf.readUInt32BE(12), buf.subarray(16, len));
        buf = buf.subarray(len);
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  s.server = server;
  s.port = server.address().port;
  s.stop = () => new Promise((resolve) => {
    for (const sock of s.sockets) sock.destroy();
    s.sockets.clear();
    server.close(() => resolve());
  });
  return s;
}
