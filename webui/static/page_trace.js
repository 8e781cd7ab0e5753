// The live trace page: trace.start with the filters of the form, then
// trace.list as a long poll from its cursor ("next": wait_ms 1000, asked
// again as soon as it answers, so a record shows as it is kept), each record appended
// to a timeline with its time relative to the first one, its kind, its
// direction and its summary.  Leaving the page (or Stop) calls trace.stop,
// so no trace outlives the page; one the server ended (trace.idle_s, a
// restart) answers -32004 and the page says so.
//
// #/trace?env_id=ID (from a message's history) fills the form and starts.
'use strict';

(() => {
  const WAIT_MS = 1000;   // the long poll's wait (the server's cap for HTTP)
  const RETRY_MS = 1000;  // after an error, before asking again
  const MAX_ROWS = 2000;
  const FILTERS = [['to', 'To number'], ['from', 'From number'], ['env_id', 'Envelope id'],
    ['call_id', 'SIP Call-ID'], ['connector', 'Connector'], ['peer', 'Peer ip[:port]'],
    ['system_id', 'SMPP system_id']];
  let built = false;
  let traceId = null;
  let cursor = 0;
  let t0 = null;
  let timer = null;
  let shown = 0;

  function build() {
    if (built) return;
    built = true;
    $('trace').append(
      el('div', { class: 'section-head' }, el('h2', { id: 'trace-title', text: 'Live trace' }),
        el('span', { id: 'tr-state', class: 'muted small', text: 'stopped' })),
      el('p', { class: 'muted small', text: 'Every SIP packet, SMPP PDU, AMQP publish, routing decision and state change that matches all the filters given, as it happens.' }),
      el('form', { id: 'trace-form', autocomplete: 'off', 'data-method': 'trace.start' },
        el('div', { class: 'fields' }, ...FILTERS.map(([k, label]) => el('label', {}, label,
          el('input', { id: `tr-${k}`, name: k, list: k === 'connector' ? 'connector-names' : undefined }))))),
      el('div', { class: 'form-actions' },
        el('button', { type: 'submit', form: 'trace-form', id: 'tr-start', text: 'Start trace' }),
        el('button', { type: 'button', id: 'tr-stop', class: 'ghost', text: 'Stop', disabled: true }),
        el('button', { type: 'button', id: 'tr-clear', class: 'ghost', text: 'Clear' }),
        el('span', { id: 'tr-status', class: 'form-status', role: 'status', 'aria-live': 'polite' })),
      el('ol', { id: 'trace-timeline', class: 'timeline trace', 'aria-live': 'polite' }));
    $('trace-form').addEventListener('submit', (ev) => { ev.preventDefault(); start(); });
    $('tr-stop').addEventListener('click', () => stop('stopped'));
    $('tr-clear').addEventListener('click', () => { $('trace-timeline').replaceChildren(); t0 = null; shown = 0; });
    applyRoles();
  }

  function setRunning(on, text) {
    $('tr-state').textContent = text;
    $('tr-start').disabled = on || !can('trace.start');
    $('tr-stop').disabled = !on;
  }

  const dirMark = { in: '→ in', out: '← out', '-': '·' };

  function recordItem(r) {
    if (t0 === null) t0 = r.time;
    const who = [r.connector, r.peer].filter(Boolean).join(' ');
    const ids = [r.env_id && `env ${r.env_id}`, r.call_id && `call ${r.call_id}`,
      r.smpp_cmd && `${r.smpp_cmd}${r.smpp_seq !== undefined ? ` #${r.smpp_seq}` : ''}`,
      r.smpp_msgid && `msgid ${r.smpp_msgid}`].filter(Boolean).join(' · ');
    return el('li', { class: `tl-item kind-${r.kind}`, 'data-seq': String(r.seq), 'data-kind': r.kind },
      el('span', { class: 'tl-time mono', text: `+${((r.time - t0) / 1000).toFixed(3)} s`, title: fmtStamp(r.time) }),
      el('span', { class: `badge kind ${r.kind}`, text: r.kind }),
      el('span', { class: 'tl-dir mono', text: dirMark[r.dir] || r.dir || '' }),
      el('span', { class: 'tl-who mono', text: who }),
      el('span', { class: 'tl-detail' }, el('span', { class: 'summary', text: r.summary || '' }),
        ids ? el('span', { class: 'muted small', text: ` ${ids}` }) : null));
  }

  // One long poll; resolves true when the loop should ask again at once.
  async function poll() {
    if (traceId === null) return false;
    const id = traceId;
    let res;
    try {
      res = await mi('trace.list', { id, after: cursor, limit: 512, wait_ms: WAIT_MS });
    } catch (e) {
      if (id !== traceId) return false;
      if (e instanceof MiError && e.code === -32004) { traceId = null; stopTimer(); setRunning(false, 'ended by the server'); }
      setStatus('tr-status', errText(e), true);
      return false;
    }
    if (id !== traceId) return;
    cursor = res.next;
    const ol = $('trace-timeline');
    if (res.lost) ol.append(el('li', { class: 'tl-item lost', text: `${res.lost} record(s) lost (the trace's ring overflowed)` }));
    for (const r of res.records || []) { ol.append(recordItem(r)); shown++; }
    while (ol.childElementCount > MAX_ROWS) ol.firstElementChild.remove();
    $('tr-state').textContent = `trace ${id} running · ${shown} record(s)`;
    return true;
  }

  // Long-poll while trace id runs; an error waits RETRY_MS before the next ask.
  async function pollLoop(id) {
    while (traceId === id) {
      if (!(await poll()) && traceId === id) await new Promise((r) => { timer = setTimeout(r, RETRY_MS); });
    }
  }

  function stopTimer() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  async function start() {
    const params = {};
    for (const [k] of FILTERS) { const v = $(`tr-${k}`).value.trim(); if (v) params[k] = v; }
    if (!Object.keys(params).length) { setStatus('tr-status', 'Give at least one filter.', true); return; }
    await stop(null);
    try {
      const r = await mi('trace.start', params);
      traceId = r.id;
      cursor = 0;
      shown = 0;
      t0 = null;
      $('trace-timeline').replaceChildren();
      setRunning(true, `trace ${traceId} running`);
      setStatus('tr-status', `Tracing ${Object.entries(params).map(([k, v]) => `${k} ${v}`).join(', ')}.`, false);
      pollLoop(traceId);
    } catch (e) {
      setStatus('tr-status', `Not started: ${errText(e)}`, true);
    }
  }

  // Stop the running trace, if any; text (when not null) is the new state.
  async function stop(text) {
    stopTimer();
    const id = traceId;
    traceId = null;
    if (id !== null) {
      try { await mi('trace.stop', { id }); } catch (e) { /* ended already */ }
    }
    if (text !== null) setRunning(false, text);
  }

  // A trace must not outlive the page, even when the tab closes.
  window.addEventListener('pagehide', () => {
    if (traceId === null) return;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'trace.stop', params: { id: traceId } });
    const headers = { 'Content-Type': 'application/json' };
    if (session && session.csrf) headers['X-CSRF-Token'] = session.csrf;
    fetch('/mi', { method: 'POST', headers, body, keepalive: true }).catch(() => {});
  });

  consolePage('trace', {
    enter: async (args) => {
      build();
      setRunning(false, 'stopped');
      let auto = false;
      for (const [k] of FILTERS) if (args.get(k)) { $(`tr-${k}`).value = args.get(k); auto = true; }
      if (auto) await start();
    },
    leave: () => stop('stopped'),
  });
})();
