// The connectors page: connectors.list every 2 s with each one's live
// state and counters; add and edit (connectors.add / connectors.update
// with the conf as JSON), enable / disable, delete, and for SMPP clients
// bind / unbind (smpp.bind / smpp.unbind).
//
// Rows are kept by name and updated in place, so the 2 s refresh never
// takes the keyboard focus away from a button in the table.
'use strict';

(() => {
  const POLL_MS = 2000;
  let editing = null; // the name in the form when editing, else null

  const TEMPLATES = {
    smpp: { host: '127.0.0.1', port: 2775, system_id: 'junction', password: 'secret', window: 10 },
    sip: { uri: 'sip:127.0.0.1:5070' },
    sip_trunk: { destinations: [{ uri: 'sip:127.0.0.1:5070', weight: 1, priority: 0 }], strategy: 'failover',
      probe: { interval_s: 30, up_after: 1, down_after: 2, timeout_ms: 2000 } },
    amqp: { host: '127.0.0.1', port: 5672, exchange: 'junction' },
  };

  function stateClass(state) {
    const s = String(state || '').toLowerCase();
    if (['up', 'bound', 'connected', 'open', 'ready', 'running', 'listening'].includes(s)) return 'ok';
    if (['connecting', 'binding', 'starting', 'reconnecting', 'throttled', 'held'].includes(s)) return 'warn';
    if (['disabled', 'stopped', 'closed', 'idle'].includes(s)) return 'idle';
    return 'bad';
  }

  // The status members besides state, and for SMPP the per-bind counters
  // summed: "peer 127.0.0.1:2775 · window 10 · submitted 3 · received 0".
  function details(c) {
    const st = c.status || {};
    const parts = [];
    for (const [k, v] of Object.entries(st)) {
      if (k === 'state' || k === 'binds' || k === 'next_attempt_ms') continue;
      parts.push([k, v]);
    }
    if (Array.isArray(st.binds)) {
      for (const k of ['submitted', 'received', 'refused', 'lost']) {
        parts.push([k, st.binds.reduce((a, b) => a + (Number(b[k]) || 0), 0)]);
      }
    }
    const conf = c.conf || {};
    if (conf.host !== undefined && st.peer === undefined) parts.push(['peer', `${conf.host}${conf.port !== undefined ? `:${conf.port}` : ''}`]);
    const span = el('span', { class: 'details' });
    parts.forEach(([k, v], i) => {
      if (i) span.append(' · ');
      span.append(`${k} `, el('b', { 'data-k': k, text: showText(v) }));
    });
    if (!parts.length) span.textContent = '—';
    return span;
  }

  async function act(what, method, params) {
    try {
      await mi(method, params);
      setStatus('conn-status', what, false);
    } catch (e) {
      setStatus('conn-status', `${method}: ${errText(e)}`, true);
    }
    await load();
  }

  const isSmppClient = (c) => c.type === 'smpp' && !String(c.name).startsWith('account:');
  const isBuiltIn = (c) => c.name === 'sip:reply' || String(c.name).startsWith('account:');

  function actions(c) {
    const box = el('span', { class: 'nowrap actions' });
    if (isBuiltIn(c)) return box;
    const edit = el('button', { type: 'button', class: 'ghost mini edit', text: 'Edit', 'aria-label': `edit ${c.name}` });
    edit.addEventListener('click', () => openForm(c));
    const on = c.enabled !== false;
    const toggle = guard(el('button', { type: 'button', class: 'ghost mini toggle', text: on ? 'Disable' : 'Enable' }), 'connectors.update');
    toggle.addEventListener('click', () => act(`${c.name} ${on ? 'disabled' : 'enabled'}.`, 'connectors.update', { name: c.name, enabled: !on }));
    box.append(guard(edit, 'connectors.update'), toggle);
    if (isSmppClient(c)) {
      const held = c.status && c.status.state === 'held';
      const b = guard(el('button', { type: 'button', class: 'ghost mini bind', text: held ? 'Bind' : 'Unbind' }), held ? 'smpp.bind' : 'smpp.unbind');
      b.addEventListener('click', () => act(`${c.name}: ${held ? 'bind' : 'unbind'} requested.`, held ? 'smpp.bind' : 'smpp.unbind', { connector: c.name }));
      box.append(b);
    }
    box.append(confirmButton('Delete', () => act(`${c.name} deleted.`, 'connectors.delete', { name: c.name }), 'connectors.delete'));
    return box;
  }

  // The actions change only with these; the cells around them every poll.
  const actionKey = (c) => `${c.enabled !== false}|${c.status && c.status.state === 'held'}|${c.type}|${methodRoles.size}`;

  function render(list) {
    $('connector-names').replaceChildren(...list.map((c) => el('option', { value: c.name })));
    const tbody = $('conn-table').tBodies[0];
    const rows = new Map([...tbody.querySelectorAll('tr[data-name]')].map((r) => [r.dataset.name, r]));
    const wanted = [];
    for (const c of list) {
      const state = c.status && c.status.state !== undefined ? c.status.state : 'unknown';
      let row = rows.get(c.name);
      if (!row) {
        row = el('tr', { 'data-name': c.name },
          el('td', { class: 'mono', text: c.name }), el('td', { text: c.type }),
          el('td', {}, el('span', { class: 'badge' })), el('td', { class: 'enabled' }), el('td', { class: 'det' }),
          el('td', { class: 'act' }));
      }
      const badge = row.querySelector('.badge');
      badge.className = `badge ${stateClass(state)}`;
      badge.textContent = state;
      row.querySelector('td.enabled').textContent = c.enabled === false ? 'no' : 'yes';
      row.querySelector('td.det').replaceChildren(details(c));
      if (row.dataset.act !== actionKey(c)) {
        const had = row.contains(document.activeElement) ? document.activeElement.className : null;
        row.dataset.act = actionKey(c);
        row.querySelector('td.act').replaceChildren(actions(c));
        if (had) { const again = row.querySelector(`button[class="${had}"]`) || row.querySelector('button'); if (again) again.focus(); }
      }
      wanted.push(row);
    }
    if (!wanted.length) {
      fillBody($('conn-table'), [], 6, 'no connectors configured');
      return;
    }
    for (const r of tbody.children) if (!wanted.includes(r)) r.remove();
    wanted.forEach((r, i) => { if (tbody.children[i] !== r) tbody.insertBefore(r, tbody.children[i] || null); });
  }

  async function load() {
    try {
      render(await mi('connectors.list'));
      setLink(true, 'connected');
    } catch (e) {
      setLink(false, 'disconnected');
      banner(`Connectors: ${errText(e)}`);
    }
  }

  function openForm(c) {
    editing = c ? c.name : null;
    $('cf-title').textContent = c ? `Edit connector ${c.name}` : 'Add a connector';
    $('cf-save').textContent = c ? 'Save connector' : 'Add connector';
    $('cf-name').value = c ? c.name : '';
    $('cf-name').readOnly = !!c;
    $('cf-type').value = c ? c.type : 'smpp';
    $('cf-type').disabled = !!c;
    $('cf-enabled').checked = c ? c.enabled !== false : true;
    $('cf-conf').value = JSON.stringify(c ? c.conf : TEMPLATES[$('cf-type').value], null, 2);
    $('conn-form').dataset.method = c ? 'connectors.update' : 'connectors.add';
    applyGuard($('conn-form'));
    if (c) $('cf-type').disabled = true;
    setStatus('cf-status', c ? 'A password shown as *** is kept unless you type a new one.' : '', false);
    if (c) $('cf-conf').focus();
  }

  // A conf read back from connectors.list shows passwords as "***": keep
  // the stored one by leaving the member out... except the adapter needs
  // it, so the user must type it again when it shows ***.
  async function save(ev) {
    ev.preventDefault();
    let conf;
    try {
      conf = JSON.parse($('cf-conf').value);
    } catch (e) {
      setStatus('cf-status', `Not saved: the settings are not valid JSON (${e.message}).`, true);
      return;
    }
    if (conf && conf.password === '***') {
      setStatus('cf-status', 'Not saved: type the password again (the list shows it as ***).', true);
      $('cf-conf').focus();
      return;
    }
    const name = $('cf-name').value.trim();
    const enabled = $('cf-enabled').checked;
    try {
      if (editing) await mi('connectors.update', { name: editing, conf, enabled });
      else await mi('connectors.add', { name, type: $('cf-type').value, conf, enabled });
      setStatus('cf-status', `Connector ${editing || name} ${editing ? 'saved' : 'added'}.`, false);
      if (!editing) openForm(null);
    } catch (e) {
      setStatus('cf-status', `Not saved: ${errText(e)}`, true);
    }
    await load();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('conn-form').addEventListener('submit', save);
    $('cf-new').addEventListener('click', () => { openForm(null); $('cf-name').focus(); });
    $('cf-type').addEventListener('change', () => {
      if (!editing) $('cf-conf').value = JSON.stringify(TEMPLATES[$('cf-type').value], null, 2);
    });
  });
  consolePage('connectors', {
    enter: async () => {
      if (editing === null && !$('cf-conf').value) openForm(null);
      await every(POLL_MS, load);
    },
  });
})();
