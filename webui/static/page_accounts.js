// The SMPP accounts page: the customers that bind to Junction's own SMSC
// port (accounts.list), added with accounts.add, changed with
// accounts.update (password, allowed networks, throughput, enabled) and
// removed with accounts.delete.  Passwords are never read back.
'use strict';

(() => {
  let built = false;
  let editing = null;

  function build() {
    if (built) return;
    built = true;
    $('accounts').append(
      el('div', { class: 'section-head' }, el('h2', { id: 'acc-title', text: 'SMPP accounts' }),
        el('button', { type: 'button', id: 'acc-refresh', class: 'ghost', text: 'Refresh' })),
      el('table', { class: 'grid', id: 'acc-table' },
        el('thead', {}, el('tr', {}, ...['System id', 'Allowed networks', 'Throughput', 'Enabled', 'Created', ''].map((h) => el('th', { text: h })))),
        el('tbody', {}, el('tr', { class: 'empty' }, el('td', { colspan: '6', text: 'loading…' })))),
      el('span', { id: 'acc-status', class: 'form-status', role: 'status', 'aria-live': 'polite' }),
      el('form', { id: 'acc-form', class: 'route-form', autocomplete: 'off', 'data-method': 'accounts.add' },
        el('h3', { id: 'af-title', text: 'Add an account' }),
        el('div', { class: 'fields' },
          el('label', {}, 'System id', el('input', { id: 'af-id', required: true, maxlength: '15' })),
          el('label', {}, 'Password', el('input', { id: 'af-password', type: 'password', maxlength: '8', autocomplete: 'new-password' })),
          el('label', {}, 'Allowed networks', el('input', { id: 'af-nets', placeholder: '127.0.0.0/8, ::1 (empty: any)' })),
          el('label', {}, 'Throughput (msg/s)', el('input', { id: 'af-tput', type: 'number', min: '0', step: '1', placeholder: '0: no limit' })),
          el('label', { class: 'check' }, el('input', { type: 'checkbox', id: 'af-enabled', checked: true }), ' enabled')),
        el('div', { class: 'form-actions' },
          el('button', { type: 'submit', id: 'af-save', text: 'Add account' }),
          el('button', { type: 'button', id: 'af-new', class: 'ghost', text: 'New' }),
          el('span', { id: 'af-status', class: 'form-status', role: 'status', 'aria-live': 'polite' }))));
    $('acc-refresh').addEventListener('click', load);
    $('acc-form').addEventListener('submit', save);
    $('af-new').addEventListener('click', () => openForm(null));
    applyRoles();
  }

  function openForm(a) {
    editing = a ? a.system_id : null;
    $('af-title').textContent = a ? `Edit account ${a.system_id}` : 'Add an account';
    $('af-save').textContent = a ? 'Save account' : 'Add account';
    $('acc-form').dataset.method = a ? 'accounts.update' : 'accounts.add';
    applyGuard($('acc-form'));
    $('af-id').value = a ? a.system_id : '';
    $('af-id').readOnly = !!a;
    $('af-password').value = '';
    $('af-password').placeholder = a ? 'unchanged when empty' : '';
    $('af-nets').value = a ? a.allowed_nets || '' : '';
    $('af-tput').value = a && a.throughput ? String(a.throughput) : '';
    $('af-enabled').checked = a ? a.enabled !== false : true;
    setStatus('af-status', '', false);
    (a ? $('af-password') : $('af-id')).focus();
  }

  async function save(ev) {
    ev.preventDefault();
    const p = { system_id: $('af-id').value.trim(), allowed_nets: $('af-nets').value.trim() };
    if ($('af-password').value) p.password = $('af-password').value;
    if ($('af-tput').value !== '') p.throughput = Number($('af-tput').value);
    try {
      if (editing) {
        p.enabled = $('af-enabled').checked;
        await mi('accounts.update', p);
      } else {
        if (!p.password) { setStatus('af-status', 'Not added: a new account needs a password.', true); return; }
        await mi('accounts.add', p);
        if (!$('af-enabled').checked) await mi('accounts.update', { system_id: p.system_id, enabled: false });
      }
      setStatus('af-status', `Account ${p.system_id} ${editing ? 'saved' : 'added'}.`, false);
      if (!editing) openForm(null);
    } catch (e) {
      setStatus('af-status', `Not saved: ${errText(e)}`, true);
    }
    await load();
  }

  async function act(what, method, params) {
    try { await mi(method, params); setStatus('acc-status', what, false); } catch (e) { setStatus('acc-status', errText(e), true); }
    await load();
  }

  function row(a) {
    const on = a.enabled !== false;
    const edit = guard(el('button', { type: 'button', class: 'ghost mini edit', text: 'Edit' }), 'accounts.update');
    edit.addEventListener('click', () => openForm(a));
    const toggle = guard(el('button', { type: 'button', class: 'ghost mini toggle', text: on ? 'Disable' : 'Enable' }), 'accounts.update');
    toggle.addEventListener('click', () => act(`Account ${a.system_id} ${on ? 'disabled' : 'enabled'}.`, 'accounts.update', { system_id: a.system_id, enabled: !on }));
    const del = confirmButton('Delete', () => act(`Account ${a.system_id} deleted.`, 'accounts.delete', { system_id: a.system_id }), 'accounts.delete');
    return el('tr', { 'data-name': a.system_id, class: on ? '' : 'off' },
      el('td', { class: 'mono', text: a.system_id }), el('td', { class: 'mono', text: a.allowed_nets || 'any' }),
      el('td', { class: 'num', text: a.throughput ? `${a.throughput}/s` : 'no limit' }),
      el('td', { text: on ? 'yes' : 'no' }), el('td', { text: fmtStamp(a.created_at) }),
      el('td', { class: 'nowrap' }, edit, toggle, del));
  }

  async function load() {
    try {
      fillBody($('acc-table'), (await miIf('accounts.list')).map(row), 6, 'no accounts yet');
    } catch (e) {
      fillBody($('acc-table'), [], 6, notAvailable(e) ? 'not available on this server' : e.message);
    }
  }

  consolePage('accounts', { enter: async () => { build(); await load(); } });
})();
