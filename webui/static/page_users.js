// The users and tokens page: console users (users.list / users.add
// {name, role, password} / users.passwd / users.delete) and API tokens
// (tokens.list / tokens.create {name, role, expires_s?} / tokens.delete).
// A new token's secret is in tokens.create's answer only: it is shown once,
// with a note that it cannot be read again.
'use strict';

(() => {
  let built = false;
  const ROLES = ['viewer', 'operator', 'admin'];
  const roleSelect = (id) => el('select', { id }, ...ROLES.map((r) => el('option', { value: r, text: r })));

  function build() {
    if (built) return;
    built = true;
    $('users').append(
      el('h2', { id: 'users-title', text: 'Users' }),
      el('table', { class: 'grid', id: 'users-table' },
        el('thead', {}, el('tr', {}, ...['Name', 'Role', 'Details', ''].map((h) => el('th', { text: h })))),
        el('tbody', {}, el('tr', { class: 'empty' }, el('td', { colspan: '4', text: 'loading…' })))),
      el('span', { id: 'users-status', class: 'form-status', role: 'status', 'aria-live': 'polite' }),
      el('form', { id: 'user-form', class: 'route-form', autocomplete: 'off', 'data-method': 'users.add' },
        el('h3', { text: 'Add a user' }),
        el('div', { class: 'fields' },
          el('label', {}, 'Name', el('input', { id: 'uf-name', required: true, maxlength: '63' })),
          el('label', {}, 'Role', roleSelect('uf-role')),
          el('label', {}, 'Password', el('input', { id: 'uf-password', type: 'password', required: true, autocomplete: 'new-password' }))),
        el('div', { class: 'form-actions' }, el('button', { type: 'submit', id: 'uf-add', text: 'Add user' }),
          el('span', { id: 'uf-status', class: 'form-status', role: 'status', 'aria-live': 'polite' }))),
      el('h2', { id: 'tokens-title', class: 'spaced', text: 'API tokens' }),
      el('table', { class: 'grid', id: 'tokens-table' },
        el('thead', {}, el('tr', {}, ...['Name', 'Role', 'Expires', 'Details', ''].map((h) => el('th', { text: h })))),
        el('tbody', {}, el('tr', { class: 'empty' }, el('td', { colspan: '5', text: 'loading…' })))),
      el('form', { id: 'token-form', class: 'route-form', autocomplete: 'off', 'data-method': 'tokens.create' },
        el('h3', { text: 'Create a token' }),
        el('div', { class: 'fields' },
          el('label', {}, 'Name', el('input', { id: 'tf-name', required: true, maxlength: '63' })),
          el('label', {}, 'Role', roleSelect('tf-role')),
          el('label', {}, 'Expires after (s)', el('input', { id: 'tf-expires', type: 'number', min: '1', placeholder: 'never' }))),
        el('div', { class: 'form-actions' }, el('button', { type: 'submit', id: 'tf-create', text: 'Create token' }),
          el('span', { id: 'tf-status', class: 'form-status', role: 'status', 'aria-live': 'polite' }))),
      el('div', { id: 'token-once', class: 'once', hidden: true, role: 'alert' }));
    $('user-form').addEventListener('submit', addUser);
    $('token-form').addEventListener('submit', createToken);
    applyRoles();
  }

  async function call(statusId, what, method, params) {
    try { const r = await mi(method, params); setStatus(statusId, what, false); return r; } catch (e) { setStatus(statusId, errText(e), true); return null; }
  }

  // Another user's password, set by an admin: they must change it at
  // their next login.  One's own goes through the password form (it needs
  // the old one).
  function passwdForm(u) {
    if (session && session.user === u.name) {
      const b = el('button', { type: 'button', class: 'ghost mini own-passwd', text: 'Change my password' });
      b.addEventListener('click', () => changeOwnPassword());
      return [b];
    }
    const input = el('input', { type: 'password', class: 'mini-input', 'aria-label': `new password of ${u.name}`, autocomplete: 'new-password' });
    const btn = guard(el('button', { type: 'button', class: 'ghost mini set-passwd', text: 'Set password' }), 'users.passwd');
    guard(input, 'users.passwd');
    btn.addEventListener('click', async () => {
      if (!input.value) { input.focus(); return; }
      if (await call('users-status', `Password of ${u.name} set: they choose a new one at their next login.`, 'users.passwd',
        { name: u.name, password: input.value })) input.value = '';
    });
    return [input, btn];
  }

  function roleCell(u) {
    if (!hasMethod('users.set_role')) return el('td', { text: u.role });
    const sel = guard(el('select', { class: 'role', 'aria-label': `role of ${u.name}` },
      ...ROLES.map((r) => el('option', { value: r, text: r, selected: r === u.role }))), 'users.set_role');
    sel.addEventListener('change', async () => {
      await call('users-status', `${u.name} is now ${sel.value}.`, 'users.set_role', { name: u.name, role: sel.value });
      await load();
    });
    return el('td', {}, sel);
  }

  function userRow(u) {
    const me = session && session.user === u.name;
    const del = confirmButton('Delete', async () => { await call('users-status', `User ${u.name} deleted.`, 'users.delete', { name: u.name }); await load(); }, 'users.delete');
    if (me) { del.disabled = true; del.title = 'you cannot delete yourself'; }
    const extra = Object.entries(u).filter(([k]) => !['name', 'role'].includes(k))
      .map(([k, v]) => `${k.replace(/_/g, ' ')} ${/_at$|^last_login$/.test(k) && typeof v === 'number' ? fmtStamp(v) : showText(v)}`).join(' · ');
    return el('tr', { 'data-name': u.name },
      el('td', { class: 'mono', text: `${u.name}${me ? ' (you)' : ''}` }), roleCell(u),
      el('td', { class: 'small', text: extra }), el('td', { class: 'nowrap' }, ...passwdForm(u), del));
  }

  function tokenRow(t) {
    const del = confirmButton('Delete', async () => { await call('tf-status', `Token ${t.name} deleted.`, 'tokens.delete', { name: t.name }); await load(); }, 'tokens.delete');
    return el('tr', { 'data-name': t.name }, el('td', { class: 'mono', text: t.name }), el('td', { text: t.role }),
      el('td', { text: t.expires_at || t.expires ? fmtStamp(t.expires_at || t.expires) : 'never' }),
      el('td', { class: 'small', text: [t.created_by && `by ${t.created_by}`, t.last_used && `last used ${fmtStamp(t.last_used)}`].filter(Boolean).join(' · ') }),
      el('td', {}, del));
  }

  async function addUser(ev) {
    ev.preventDefault();
    const p = { name: $('uf-name').value.trim(), role: $('uf-role').value, password: $('uf-password').value };
    if (await call('uf-status', `User ${p.name} added.`, 'users.add', p)) { $('uf-name').value = ''; $('uf-password').value = ''; }
    await load();
  }

  async function createToken(ev) {
    ev.preventDefault();
    const p = { name: $('tf-name').value.trim(), role: $('tf-role').value };
    if ($('tf-expires').value) p.expires_s = Number($('tf-expires').value);
    const r = await call('tf-status', `Token ${p.name} created.`, 'tokens.create', p);
    const box = $('token-once');
    if (r && r.token) {
      box.replaceChildren(el('p', {}, el('b', { text: `Token ${r.name} (${r.role}): ` }), 'copy it now, it is shown only once.'),
        el('code', { id: 'token-secret', class: 'mono secret', text: r.token, tabindex: '0' }));
      box.hidden = false;
      $('tf-name').value = '';
      $('token-secret').focus();
    } else {
      box.hidden = true;
    }
    await load();
  }

  async function load() {
    const settle = (p) => p.then((result) => ({ result }), (error) => ({ error }));
    const [users, tokens] = await Promise.all([settle(miIf('users.list')), settle(miIf('tokens.list'))]);
    const none = (r) => (notAvailable(r.error) ? 'not available on this server' : r.error.message);
    if (users.error) fillBody($('users-table'), [], 4, none(users));
    else fillBody($('users-table'), users.result.map(userRow), 4, 'no users');
    if (tokens.error) fillBody($('tokens-table'), [], 5, none(tokens));
    else fillBody($('tokens-table'), tokens.result.map(tokenRow), 5, 'no tokens');
  }

  consolePage('users', { enter: async () => { build(); $('token-once').hidden = true; await load(); } });
})();
