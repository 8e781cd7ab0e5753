// A latency probe for the benchmark: a SIP UAC on its own UDP socket that
// sends MESSAGEs at a low fixed rate while SIPp carries the load, and times
// each final response with a monotonic clock in microseconds.  SIPp's own
// response times (-trace_rtt) tick in 4 ms steps on this machine, too
// coarse for a commit that takes about 1 ms; the probe gives the p50/p99.
// No retransmission: a request without an answer in waitMs counts as lost.
// Binds 127.0.0.1 only; every loop is bounded by count and time.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// o: {port: junction's SIP port, from: numeric user, dst: Request-URI user,
//     text: body after "#n ", count, rate (per second), waitMs}
// Resolves {sent, ok, other, lost, lat: [ms, ...] of the 202s}.
export async function runProbe(o) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', resolve);
  });
  const lport = sock.address().port;
  const tag = randomBytes(4).toString('hex');
  const pending = new Map();
  const res = { sent: 0, ok: 0, other: 0, lost: 0, lat: [] };
  sock.on('message', (buf) => {
    const t1 = process.hrtime.bigint();
    const text = buf.toString('latin1');
    const code = /^SIP\/2\.0 (\d{3})/.exec(text);
    const cid = /^(?:Call-ID|i):\s*(\S+)/im.exec(text);
    if (!code || !cid || !pending.has(cid[1]) || Number(code[1]) < 200) return;
    const t0 = pending.get(cid[1]);
    pending.delete(cid[1]);
    if (code[1] === '202') {
      res.ok++;
      res.lat.push(Number(t1 - t0) / 1e6);
    } else {
      res.other++;
    }
  });
  const gapMs = 1000 / o.rate;
  const start = Date.now();
  for (let n = 1; n <= o.count; n++) {
    const body = `#${n} ${o.text}\r\n`;
    const callId = `probe-${tag}-${n}@127.0.0.1`;
    const msg = `MESSAGE sip:${o.dst}@127.0.0.1:${o.port} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${lport};branch=z9hG4bK-${tag}-${n};rport\r\n` +
      `From: <sip:${o.from}@127.0.0.1:${lport}>;tag=${tag}${n}\r\n` +
      `To: <sip:${o.dst}@127.0.0.1:${o.port}>\r\n` +
      `Call-ID: ${callId}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n` +
      'Content-Type: text/plain;charset=UTF-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    pending.set(callId, process.hrtime.bigint());
    sock.send(msg, o.port, '127.0.0.1');
    res.sent++;
    const due = start + n * gapMs - Date.now();
    if (due > 0) await sleep(due);
  }
  const end = Date.now() + (o.waitMs || 5000);
  while (pending.size > 0 && Date.now() < end) await sleep(20);
  res.lost = pending.size;
  sock.close();
  return res;
}
