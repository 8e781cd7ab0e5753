// What a client connector does with each command_status the SMSC answers
// submit_sm with (issue 7): a per-connector table (conf "status") over
// the defaults - ESME_RTHROTTLED / ESME_RMSGQFUL pause the bind and resend
// without counting an attempt, ESME_RSYSERR retries, anything else fails.
// The SMSC is the fake of lib/smsc.mjs with a scripted answer per submit.
// Loopback only; every wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

const PARAMS = { 'smpp.reconnect_s': 1, 'core.retry_base_ms': 100, 'core.retry_max_ms': 200 };

// answers: the command_status of submit n (1-based); 0 once they run out.
async function setup(t, answers, conf = {}) {
  const tried = [];
  const smsc = await startSmsc({ submitStatus: (pdu) => {
    tried.push(pdu);
    return answers[tried.length - 1] ?? 0;
  } });
  t.after(() => smsc.stop());
  const j = await startJunction({ params: PARAMS });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'secret', ...conf } });
  await waitBound(j, 'op');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  const send = async () => (await j.mi('messages.inject', { from: '4930111', to: '447700900001',
    body: 'status table', registered_delivery: 0 })).id;
  return { smsc, j, tried, send };
}

const get = (j, id) => j.mi('messages.get', { id });
const settled = (j, id, status) =>
  waitFor(async () => (await get(j, id)).status === status, 10000, `status ${status}`);

test('ESME_RSUBMITFAIL fails a message by default, and is retried where the connector says so', async (t) => {
  {
    const { j, tried, send } = await setup(t, [0x45]);
    const id = await send();
    await settled(j, id, 'failed');
    assert.equal(tried.length, 1, 'no second attempt');
  }
  {
    const { j, tried, send } = await setup(t, [0x45], { status: { '0x45': 'retry' } });
    const id = await send();
    await settled(j, id, 'submitted');
    assert.equal(tried.length, 2, 'the second attempt went through');
  }
});

test('a retry rule with tries fails the message after that many attempts', async (t) => {
  const { j, tried, send } = await setup(t, [0x45, 0x45, 0x45, 0x45],
    { status: { 69: { action: 'retry', tries: 2, delay_ms: 50 } } });
  const id = await send();
  await settled(j, id, 'failed');
  assert.equal(tried.length, 2, 'two attempts, as the rule says');
});

test('ESME_RTHROTTLED pauses the bind and resends without counting an attempt', async (t) => {
  const { j, tried, send } = await setup(t, [0x58], { status: { '0x58': { action: 'pause', delay_ms: 300 } } });
  const id = await send();
  await settled(j, id, 'submitted');
  assert.equal(tried.length, 2);
  const m = await get(j, id);
  assert.equal(m.attempts, 1, 'the throttled try is not an attempt');
});

test('a status table that is not one is refused with the reason', async (t) => {
  const { j } = await setup(t, []);
  for (const status of [{ 'x45': 'retry' }, { '0x45': 'later' }, { '0x45': { action: 'retry', tries: -1 } }, []]) {
    await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'smpp',
      conf: { host: '127.0.0.1', port: 1, system_id: 'a', password: 'b', status } }), /status/);
  }
});
