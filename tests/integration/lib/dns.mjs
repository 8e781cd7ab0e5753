// A DNS server for the tests, on 127.0.0.1 only (node:dgram), answering
// from a zone given as an object and counting the queries it got.  Packets
// are built by hand (RFC 1035 wire format, RFC 2782 SRV, RFC 3403 NAPTR).
//
// zone: { 'name': { ttl, A: ['1.2.3.4'], AAAA: ['::1'],
//                   SRV: [{ prio, weight, port, target }],
//                   NAPTR: [{ order, pref, flags, service, regexp, replacement }],
//                   drop: true /* never answered */ } }
// A name not in the zone is NXDOMAIN; a type it lacks is NODATA; both with an
// SOA of TTL negTtl in the authority section.
import dgram from 'node:dgram';
import { freePort } from './junction.mjs';

const TYPES = { A: 1, AAAA: 28, SRV: 33, NAPTR: 35, SOA: 6 };
const NAMES = Object.fromEntries(Object.entries(TYPES).map(([k, v]) => [v, k]));

function encName(name) {
  const parts = name.replace(/\.$/, '').split('.').filter((p) => p.length);
  const bufs = parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')]));
  return Buffer.concat([...bufs, Buffer.from([0])]);
}
const u16 = (n) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const str = (s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s, 'ascii')]);

function ip6(s) {
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const fill = tail !== undefined ? 8 - h.length - t.length : 0;
  const words = [...h, ...Array(fill).fill('0'), ...t];
  return Buffer.concat(words.map((w) => u16(parseInt(w, 16))));
}

function rdata(type, r) {
  switch (type) {
    case 'A': return Buffer.from(r.split('.').map(Number));
    case 'AAAA': return ip6(r);
    case 'SRV': return Buffer.concat([u16(r.prio), u16(r.weight), u16(r.port), encName(r.target)]);
    case 'NAPTR': return Buffer.concat([u16(r.order), u16(r.pref), str(r.flags), str(r.service),
      str(r.regexp || ''), encName(r.replacement)]);
    default: throw new Error(type);
  }
}

function rr(type, ttl, data) {
  // the owner name is a pointer to the question's name (offset 12)
  return Buffer.concat([Buffer.from([0xc0, 0x0c]), u16(TYPES[type]), u16(1), u32(ttl), u16(data.length), data]);
}

export async function startDns(zone, { negTtl = 60 } = {}) {
  const port = await freePort();
  const sock = dgram.createSocket('udp4');
  const d = { zone, queries: [], count: 0 };
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 17) return;
    let p = 12;
    const labels = [];
    while (p < msg.length && msg[p] !== 0) { labels.push(msg.subarray(p + 1, p + 1 + msg[p]).toString('ascii')); p += 1 + msg[p]; }
    const qname = labels.join('.').toLowerCase();
    const qtype = msg.readUInt16BE(p + 1);
    const question = msg.subarray(12, p + 5);
    const tname = NAMES[qtype] || String(qtype);
    d.queries.push(`${tname} ${qname}`);
    d.count++;
    const node = d.zone[qname];
    if (node?.drop) return;
    const answers = (node && node[tname]) || [];
    const ttl = node?.ttl ?? 300;
    const an = answers.map((r) => rr(tname, ttl, rdata(tname, r)));
    const soa = rr('SOA', negTtl, Buffer.concat([encName('ns.test'), encName('admin.test'),
      u32(1), u32(3600), u32(600), u32(86400), u32(negTtl)]));
    const ns = an.length ? [] : [soa];
    const rcode = node ? 0 : 3;
    const hdr = Buffer.concat([msg.subarray(0, 2), u16(0x8400 | (msg.readUInt16BE(2) & 0x0100) | rcode),
      u16(1), u16(an.length), u16(ns.length), u16(0)]);
    sock.send(Buffer.concat([hdr, question, ...an, ...ns]), rinfo.port, rinfo.address);
  });
  await new Promise((resolve) => sock.bind(port, '127.0.0.1', resolve));
  d.port = sock.address().port;
  d.server = `127.0.0.1:${d.port}`;
  d.asked = (what) => d.queries.filter((q) => q === what).length;
  d.close = () => new Promise((resolve) => sock.close(resolve));
  return d;
}
