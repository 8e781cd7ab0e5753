// The messages page: a search (messages.list with id, number, connector,
// state and a time window) and one message's history (messages.get): its
// life from the row's times and delivery state, the events its changes
// published (the outbox, when an event sink listened), and a link to the
// live trace filtered on its envelope id for what happens next.
//
// #/messages?id=ID opens that message directly.
'use strict';

(() => {
  const STATES = ['received', 'queued', 'sending', 'submitted', 'delivered', 'failed', 'expired', 'rejected'];
  let built = false;

  function build() {
    if (built) return;
    built = true;
    const sec = $('messages');
    const stateSel = el('select', { id: 'ms-state', name: 'state' }, el('option', { value: '', text: 'any' }),
      ...STATES.map((s) => el('option', { value: s, text: s })));
    sec.append(
      el('h2', { id: 'msg-title', text: 'Messages' }),
      el('form', { id: 'msg-form', class: 'search', autocomplete: 'off', 'data-method': 'messages.list' },
        el('div', { class: 'fields' },
          el('label', {}, 'Message id', el('input', { id: 'ms-id', name: 'id', placeholder: '01M8…', class: 'mono' })),
          el('label', {}, 'Number (from or to)', el('input', { id: 'ms-number', name: 'number', placeholder: '+4477009' })),
          el('label', {}, 'Connector', el('input', { id: 'ms-connector', name: 'connector', list: 'connector-names' })),
          el('label', {}, 'State', stateSel),
          el('label', {}, 'From time', el('input', { id: 'ms-since', name: 'since', type: 'datetime-local' })),
          el('label', {}, 'To time', el('input', { id: 'ms-until', name: 'until', type: 'datetime-local' })),
          el('label', {}, 'At most', el('input', { id: 'ms-limit', name: 'limit', type: 'number', min: '1', max: '10000', value: '50' }))),
        el('div', { class: 'form-actions' },
          el('button', { type: 'submit', id: 'ms-search', text: 'Search' }),
          el('button', { type: 'reset', class: 'ghost', text: 'Clear' }),
          el('span', { id: 'ms-status', class: 'form-status', role: 'status', 'aria-live': 'polite' }))),
      el('table', { class: 'grid', id: 'msg-table' },
        el('thead', {}, el('tr', {}, ...['Id', 'Created', 'From', 'To', 'Source', 'Target', 'State', 'Attempts']
          .map((h) => el('th', { text: h })))),
        el('tbody', {}, el('tr', { class: 'empty' }, el('td', { colspan: '8', text: 'search for messages above' })))),
      el('div', { id: 'msg-detail', class: 'detail', hidden: true, tabindex: '-1' }));
    $('msg-form').addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
    applyRoles();
  }

  const stateClass = (s) => ({ delivered: 'ok', submitted: 'ok', queued: 'warn', sending: 'warn', received: 'warn',
    failed: 'bad', expired: 'bad', rejected: 'bad' }[s] || 'idle');
  const ms = (v) => (v ? new Date(v).getTime() : 0);

  async function search() {
    const params = { limit: Number($('ms-limit').value) || 50 };
    for (const [k, id] of [['id', 'ms-id'], ['number', 'ms-number'], ['connector', 'ms-connector'], ['status', 'ms-state']]) {
      const v = $(id).value.trim();
      if (v) params[k] = v;
    }
    if ($('ms-since').value) params.since = ms($('ms-since').value);
    if ($('ms-until').value) params.until = ms($('ms-until').value);
    try {
      const list = await mi('messages.list', params);
      fillBody($('msg-table'), list.map(row), 8, 'no message matches');
      setStatus('ms-status', `${list.length} message(s)`, false);
    } catch (e) {
      setStatus('ms-status', errText(e), true);
    }
  }

  function row(m) {
    const open = el('a', { href: `#/messages?id=${encodeURIComponent(m.id)}`, class: 'mono', text: m.id });
    return el('tr', { 'data-id': m.id },
      el('td', {}, open),
      el('td', { class: 'nowrap', text: fmtStamp(m.created_at) }),
      el('td', { class: 'mono', text: m.from || '' }),
      el('td', { class: 'mono', text: m.to || '' }),
      el('td', { class: 'mono', text: m.source_connector || '' }),
      el('td', { class: 'mono', text: m.target || '' }),
      el('td', {}, el('span', { class: `badge ${stateClass(m.status)}`, text: m.status })),
      el('td', { class: 'num', text: String(m.attempts || 0) }));
  }

  const rel = (t, t0) => (!t || !t0 ? '' : Math.abs(t - t0) < 60000 ? `+${((t - t0) / 1000).toFixed(3)} s`
    : `+${fmtDuration((t - t0) / 1000)}`);

  // The life of a message as timeline entries {t, what, detail}, from its
  // row (created, routed, tries, the current state) and its events.
  function history(m) {
    const ev = [];
    const env = m.envelope || {};
    ev.push({ t: m.created_at, what: 'received', detail: `from ${m.source_connector || '?'} (${m.source_adapter || '?'}), ${m.from} → ${m.to}` });
    if (m.route || m.target) ev.push({ t: m.created_at, what: 'routed', detail: `rule ${m.route || '—'} → ${m.target || '—'} (plan ${m.plan || '—'})` });
    for (const e of m.events || []) {
      const body = e.event || {};
      ev.push({ t: e.ts, what: e.type, detail: [body.status, body.target && `target ${body.target}`,
        body.attempts !== undefined && `attempt ${body.attempts}`, body.detail, body.remote_id && `remote id ${body.remote_id}`]
        .filter(Boolean).join(', '), event: true });
    }
    if (!(m.events || []).length) {
      if (m.attempts) ev.push({ t: null, what: 'attempts', detail: `${m.attempts} attempt(s); per target ${m.tries || '0'}` });
      if (m.next_at) ev.push({ t: m.next_at, what: 'next attempt', detail: 'after a backoff' });
      ev.push({ t: m.updated_at, what: m.status, detail: [m.reason ? `reason ${m.reason}` : '', m.reason_text, m.remote_id && `remote id ${m.remote_id}`].filter(Boolean).join(', ') });
    }
    if (m.expires_at) ev.push({ t: m.expires_at, what: 'expires', detail: env.validity_s ? `validity ${env.validity_s} s` : 'end of validity' });
    return ev;
  }

  function kv(pairs) {
    return el('dl', { class: 'kv' }, ...pairs.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { class: 'mono', text: showText(v) })]));
  }

  async function openMessage(id) {
    const box = $('msg-detail');
    let m;
    try {
      m = await mi('messages.get', { id });
    } catch (e) {
      box.replaceChildren(el('p', { class: 'form-status error', text: errText(e) }));
      box.hidden = false;
      return;
    }
    const env = m.envelope || {};
    const items = history(m).map((h) => el('li', { class: `tl-item${h.event ? ' event' : ''}`, 'data-what': h.what },
      el('span', { class: 'tl-time mono', text: h.t ? `${fmtStamp(h.t)} ${rel(h.t, m.created_at)}` : '' }),
      el('span', { class: `badge ${stateClass(h.what)}`, text: h.what }),
      el('span', { class: 'tl-detail', text: h.detail || '' })));
    box.replaceChildren(
      el('div', { class: 'section-head' }, el('h3', { id: 'md-title', text: `Message ${m.id}` }),
        el('a', { href: '#/messages', class: 'small', text: 'close' })),
      kv([['state', m.status], ['from', m.from], ['to', m.to], ['source', `${m.source_connector} (${m.source_adapter})`],
        ['rule', m.route], ['target', m.target], ['plan', m.plan], ['attempts', m.attempts], ['remote id', m.remote_id],
        ['reason', m.reason ? `${m.reason} ${m.reason_text || ''}` : ''], ['created', fmtStamp(m.created_at)],
        ['updated', fmtStamp(m.updated_at)], ['expires', fmtStamp(m.expires_at)], ['body', env.body]]),
      el('h3', { text: 'History' }),
      el('ol', { id: 'md-history', class: 'timeline' }, ...items),
      el('p', { class: 'small' }, el('a', { id: 'md-trace', href: `#/trace?env_id=${encodeURIComponent(m.id)}`, text: 'Trace this message live' }),
        ' — every packet, PDU and state change from now on.'),
      el('details', {}, el('summary', { text: 'Envelope (JSON)' }), el('pre', { class: 'mono', text: JSON.stringify(env, null, 2) })));
    box.hidden = false;
    box.focus();
  }

  consolePage('messages', {
    enter: async (args) => {
      build();
      const id = args.get('id');
      if (id) await openMessage(id);
      else $('msg-detail').hidden = true;
    },
  });
})();
