// A fake operator SMSC for the SMPP tests, built on the npm `smpp` package:
// it accepts binds (recording them), answers submit_sm with message ids
// (recording each PDU), answers enquire_link and unbind, can send deliver_sm
// to a bound session, and can be stopped and started again on the same port
// to simulate an SMSC going away.  It listens on 127.0.0.1 only.
//
// Also: customer-side helpers (bind to junction's own SMSC port and submit)
// and a raw TCP helper for garbage PDUs.
import net from 'node:net';
import smpp from 'smpp';
import { freePort, waitFor } from './junction.mjs';

// opts.port: fixed port (default: a free one).  opts.submitStatus(pdu):
// the command_status to answer a submit_sm with (default 0).
// opts.bindStatus(pdu): the command_status of each bind's response (default
// 0; another status leaves the session unbound).  opts.answer(session, pdu):
// false to leave a submit_sm unanswered (a session that hangs; kept in
// s.hung, not s.submits).  Each
// session gets a number (session.n); binds and submits record theirs
// (.session) and when they came (.at, ms).
export async function startSmsc(opts = {}) {
  const s = {
    port: opts.port || await freePort(),
    binds: [], submits: [], hung: [], unbinds: [], enquires: 0, closes: 0,
    sessions: new Set(), server: null, nextId: 1, nsessions: 0,
    submitStatus: opts.submitStatus || (() => 0),
    bindStatus: opts.bindStatus || (() => 0),
    answer: opts.answer || (() => true),
  };
  s.start = () => new Promise((resolve, reject) => {
    const server = smpp.createServer((session) => {
      s.sessions.add(session);
      session.n = ++s.nsessions;
      session.on('error', () => {});
      session.on('close', () => { s.sessions.delete(session); s.closes++; });
      for (const cmd of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
        session.on(cmd, (pdu) => {
          const status = s.bindStatus(pdu);
          s.binds.push({ command: cmd, system_id: pdu.system_id, password: pdu.password,
            interface_version: pdu.interface_version, at: Date.now(), session: session.n, status });
          if (status !== 0) return session.send(pdu.response({ command_status: status }));
          session.bound = cmd;
          session.send(pdu.response({ system_id: 'fake-smsc' }));
        });
      }
      session.on('submit_sm', (pdu) => {
        pdu.session = session.n;
        pdu.at = Date.now();
        if (!s.answer(session, pdu)) return s.hung.push(pdu);
        const status = s.submitStatus(pdu);
        if (status === 0) {
          pdu.smsc_message_id = `smsc-${s.nextId++}`;
          s.submits.push(pdu);
          session.send(pdu.response({ message_id: pdu.smsc_message_id }));
        } else {
          session.send(pdu.response({ command_status: status }));
        }
      });
      session.on('enquire_link', (pdu) => { s.enquires++; session.send(pdu.response()); });
      session.on('unbind', (pdu) => {
        s.unbinds.push(pdu);
        session.send(pdu.response());
        session.close();
      });
    });
    server.once('error', reject);
    server.listen(s.port, '127.0.0.1', () => { s.server = server; resolve(); });
  });
  // Kill: stop listening and drop every session without unbinding.
  s.stop = () => new Promise((resolve) => {
    for (const session of s.sessions) session.socket.destroy();
    s.sessions.clear();
    if (!s.server) return resolve();
    s.server.close(() => resolve());
    s.server = null;
  });
  s.boundSession = () => [...s.sessions].find((x) => x.bound);
  // Send deliver_sm on the bound session (or on session, one of s.sessions);
  // resolves with the response PDU.
  s.deliver = (fields, timeoutMs = 10000, session = s.boundSession()) => new Promise((resolve, reject) => {
    if (!session) return reject(new Error('no bound session'));
    const t = setTimeout(() => reject(new Error('no deliver_sm_resp')), timeoutMs);
    session.deliver_sm(fields, (resp) => { clearTimeout(t); resolve(resp); });
  });
  await s.start();
  return s;
}

// A customer of junction's SMSC port: connect and bind_transceiver.
// Resolves { session, resp }; resp.command_status tells the outcome.  Like
// a real ESME it answers an unbind from junction (shutdown) and closes;
// session.unbound tells whether one came; and it answers every deliver_sm
// (MO, delivery reports) ESME_ROK, keeping them in session.delivered.
// as: 'transceiver' (default), 'transmitter' or 'receiver'.
export function bindCustomer(port, system_id, password, timeoutMs = 10000, as = 'transceiver') {
  return new Promise((resolve, reject) => {
    const session = smpp.connect({ url: `smpp://127.0.0.1:${port}` });
    const t = setTimeout(() => reject(new Error('no bind response')), timeoutMs);
    session.unbound = false;
    session.delivered = [];
    session.on('unbind', (pdu) => {
      session.unbound = true;
      session.send(pdu.response());
      session.close();
    });
    session.on('deliver_sm', (pdu) => {
      session.delivered.push(pdu);
      session.send(pdu.response());
    });
    session.on('error', (e) => { clearTimeout(t); reject(e); });
    session.on('connect', () => {
      session[`bind_${as}`]({ system_id, password }, (resp) => {
        clearTimeout(t);
        resolve({ session, resp });
      });
    });
  });
}

// submit_sm on a customer session; resolves with the submit_sm_resp PDU.
export function submit(session, fields, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no submit_sm_resp')), timeoutMs);
    session.submit_sm(fields, (resp) => { clearTimeout(t); resolve(resp); });
  });
}

// A raw TCP socket that records everything it receives.
export function rawConnect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const r = { sock, data: Buffer.alloc(0), closed: false };
    sock.on('data', (d) => { r.data = Buffer.concat([r.data, d]); });
    sock.on('close', () => { r.closed = true; });
    sock.once('connect', () => { sock.on('error', () => {}); resolve(r); });
    sock.once('error', reject);
  });
}

// Split raw bytes into PDU headers {length, command_id, status, seq}.
export function parseHeaders(buf) {
  const out = [];
  let at = 0;
  while (at + 16 <= buf.length) {
    const length = buf.readUInt32BE(at);
    out.push({ length, command_id: buf.readUInt32BE(at + 4), status: buf.readUInt32BE(at + 8),
      seq: buf.readUInt32BE(at + 12) });
    if (length < 16) break;
    at += length;
  }
  return out;
}

export const connectorState = async (j, name) => {
  const list = await j.mi('connectors.list');
  const c = list.find((x) => x.name === name);
  return c && c.status ? c.status.state : undefined;
};

export const waitBound = (j, name, timeoutMs = 10000) =>
  waitFor(async () => (await connectorState(j, name)) === 'bound', timeoutMs, `${name} bound`);

// An SMSC whose submit_sm answers the test writes itself: onSubmit(session,
// pdu, s) answers (or holds) each one.  Binds of every kind are answered
// OK as systemId, enquire_link and unbind as a real SMSC does; s.sessions
// holds the open sessions (session.bound once bound), s.submits is the
// test's to fill, s.n its counter.  s.deliver(fields) sends a deliver_sm on
// the bound session and resolves with its response; s.stop drops every
// session without unbinding.
export async function startScriptedSmsc(systemId, onSubmit) {
  const s = { port: await freePort(), submits: [], sessions: new Set(), server: null, n: 0 };
  await new Promise((resolve, reject) => {
    const server = smpp.createServer((session) => {
      s.sessions.add(session);
      session.on('error', () => {});
      session.on('close', () => s.sessions.delete(session));
      for (const cmd of ['bind_transceiver', 'bind_transmitter', 'bind_receiver'])
        session.on(cmd, (pdu) => { session.bound = true; session.send(pdu.response({ system_id: systemId })); });
      session.on('submit_sm', (pdu) => onSubmit(session, pdu, s));
      session.on('enquire_link', (pdu) => session.send(pdu.response()));
      session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
    });
    server.once('error', reject);
    server.listen(s.port, '127.0.0.1', () => { s.server = server; resolve(); });
  });
  s.deliver = (fields, timeoutMs = 10000) => new Promise((resolve, reject) => {
    const session = [...s.sessions].find((x) => x.bound);
    if (!session) return reject(new Error('no bound session'));
    const t = setTimeout(() => reject(new Error('no deliver_sm_resp')), timeoutMs);
    session.deliver_sm(fields, (resp) => { clearTimeout(t); resolve(resp); });
  });
  s.stop = () => new Promise((resolve) => {
    for (const session of s.sessions) session.socket.destroy();
    s.sessions.clear();
    if (!s.server) return resolve();
    s.server.close(() => resolve());
    s.server = null;
  });
  return s;
}
