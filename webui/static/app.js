// Junction web console, the frame every page plugs into: the MI client,
// the DOM helpers, the session (login, the forced password change, logout),
// the role of each MI method and the hash router.
//
// The console talks to the daemon only through POST /mi (JSON-RPC) and the
// three session routes (/session, /login, /logout).  Everything is
// rendered with DOM calls and textContent, never innerHTML, so data cannot
// inject markup.
//
// A page is a <section data-page="NAME"> in index.html plus one
// page_NAME.js that calls consolePage(NAME, {enter, leave}).  The router
// shows one section for the URL's hash (#/connectors; #connectors works
// too), calls the old page's leave() and the new one's enter(); polls a
// page starts with every() stop by themselves when the page is left, so a
// hidden page makes no MI calls.
//
// Roles: system.listMethods gives each method's least role (viewer <
// operator < admin).  An element with data-method="routes.add" is disabled
// (and titled with the reason) when the session's role is below it; pages
// building rows call guard(el, method) for the same, and pages read with
// miIf(), which does not ask for a method above the role.  The server
// checks every call anyway: this only spares the user buttons that would
// be refused (and the browser a logged 403).
'use strict';

let rpcSeq = 0;

class MiError extends Error {
  constructor(message, code, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
  describe() {
    let s = this.code !== undefined ? `Error ${this.code}: ${this.message}` : this.message;
    if (this.data !== undefined && this.data !== null) {
      s += ` (${typeof this.data === 'string' ? this.data : JSON.stringify(this.data)})`;
    }
    return s;
  }
}

// The session: null until /session or /login answered; {user, role,
// must_change, csrf} after.
let session = null;
let methodRoles = new Map();
const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };

async function post(payload) {
  let res;
  const headers = { 'Content-Type': 'application/json' };
  if (session && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  try {
    res = await fetch('/mi', { method: 'POST', headers, body: JSON.stringify(payload) });
  } catch (e) {
    throw new MiError(`cannot reach junction (${e.message})`);
  }
  if (res.status === 401 && session) {
    // The session ended (expired, or logged out elsewhere): back to the login.
    showLogin('Your session ended: log in again.');
    throw new MiError('not logged in', -32001);
  }
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch (e) { body = null; }
  if (!res.ok && !(body && (body.error || Array.isArray(body)))) {
    throw new MiError(`HTTP ${res.status} from /mi${text ? `: ${text.trim().slice(0, 120)}` : ''}`);
  }
  return body;
}

function request(method, params) {
  return { jsonrpc: '2.0', id: ++rpcSeq, method, params: params || {} };
}

// One MI call: resolves to the result, rejects with a MiError.
async function mi(method, params) {
  const body = await post(request(method, params));
  if (body && body.error) throw new MiError(body.error.message, body.error.code, body.error.data);
  return body ? body.result : undefined;
}

// Several calls in one JSON-RPC batch: an array of {result} or {error} in
// the order of calls.
async function miBatch(calls) {
  const reqs = calls.map(([m, p]) => request(m, p));
  const replies = await post(reqs);
  if (replies && !Array.isArray(replies) && replies.error) {
    const e = new MiError(replies.error.message, replies.error.code, replies.error.data);
    return reqs.map(() => ({ error: e }));
  }
  const byId = new Map((Array.isArray(replies) ? replies : [replies]).map((r) => [r && r.id, r]));
  return reqs.map((q) => {
    const r = byId.get(q.id);
    if (!r) return { error: new MiError('no reply in batch') };
    if (r.error) return { error: new MiError(r.error.message, r.error.code, r.error.data) };
    return { result: r.result };
  });
}

// mi() for a page that may not be allowed the method: a method the server
// lacks is -32601 and one above the session's role -32003 without asking
// the server (which would answer 403, logged by the browser as an error).
function miIf(method, params) {
  if (!hasMethod(method)) return Promise.reject(new MiError(`${method}: not available on this server`, -32601));
  if (!can(method)) return Promise.reject(new MiError(`needs the ${methodRoles.get(method)} role`, -32003));
  return mi(method, params);
}

const errText = (e) => (e && e.describe ? e.describe() : String(e));
const notAvailable = (e) => e instanceof MiError && e.code === -32601;

// --- small DOM helpers --------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function fillBody(table, rows, cols, emptyText) {
  const tbody = table.tBodies[0];
  tbody.replaceChildren(...(rows.length ? rows
    : [el('tr', { class: 'empty' }, el('td', { colspan: cols, text: emptyText }))]));
}

function showText(v) {
  if (v === null || v === undefined || v === '') return '—';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function fmtDuration(s) {
  s = Math.max(0, Math.floor(Number(s) || 0));
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24;
  const m = Math.floor(s / 60) % 60, sec = s % 60;
  if (d) return `${d}d ${h}h ${m}m`;
  if (h) return `${h}h ${m}m ${sec}s`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

// A time in ms (or s) since the epoch as local date and time.
function fmtStamp(v) {
  if (v === undefined || v === null || v === 0) return '—';
  const d = new Date(v > 1e12 ? v : v * 1000);
  return isNaN(d) ? String(v) : d.toLocaleString();
}

function setStatus(id, text, isError) {
  const s = typeof id === 'string' ? $(id) : id;
  s.className = `form-status ${text ? (isError ? 'error' : 'ok') : ''}`;
  s.textContent = text || '';
}

// A list of error lines (compile errors or bad CSV lines); hidden when empty.
function showErrors(id, items) {
  const ul = $(id);
  ul.replaceChildren(...items);
  ul.hidden = items.length === 0;
}

function setLink(ok, text) {
  const l = $('link');
  l.className = `link ${ok ? 'ok' : 'bad'}`;
  l.textContent = text;
}

function banner(text) {
  const b = $('banner');
  b.hidden = !text;
  b.textContent = text || '';
}

// A button that needs a second click within 3 s (destructive actions).
function confirmButton(label, onConfirm, method) {
  let timer = null;
  const b = el('button', { type: 'button', class: 'danger', text: label });
  b.addEventListener('click', async () => {
    if (!b.classList.contains('armed')) {
      b.classList.add('armed');
      b.textContent = 'Confirm';
      timer = setTimeout(() => { b.classList.remove('armed'); b.textContent = label; }, 3000);
      return;
    }
    clearTimeout(timer);
    b.disabled = true;
    await onConfirm();
  });
  if (method) guard(b, method);
  return b;
}

// --- roles ----------------------------------------------------------------

// May this session call method?  Unknown methods (not in listMethods):
// no, except while the list is not read yet.
function can(method) {
  if (!methodRoles.size) return true;
  const need = methodRoles.get(method);
  if (!need) return false;
  return (ROLE_RANK[session && session.role] || 0) >= (ROLE_RANK[need] || 3);
}

const hasMethod = (method) => !methodRoles.size || methodRoles.has(method);

// Disable an element whose action calls method when the role may not.
function guard(e, method) {
  e.dataset.method = method;
  applyGuard(e);
  return e;
}

function applyGuard(e) {
  const ok = can(e.dataset.method);
  if (e.tagName === 'FORM') {
    for (const c of e.elements) c.disabled = !ok;
  } else {
    e.disabled = !ok;
  }
  e.classList.toggle('forbidden', !ok);
  if (!ok) e.title = methodRoles.has(e.dataset.method)
    ? `needs the ${methodRoles.get(e.dataset.method)} role` : 'not available on this server';
}

function applyRoles() {
  for (const e of document.querySelectorAll('[data-method]')) applyGuard(e);
}

async function loadRoles() {
  try {
    const list = await mi('system.listMethods');
    methodRoles = new Map(list.map((m) => [m.name, m.role || 'admin']));
  } catch (e) {
    methodRoles = new Map();
  }
  applyRoles();
}

// --- pages and the router -------------------------------------------------

const pages = new Map();
let current = null;       // the page shown
let pageTimers = [];      // every() timers of the page shown

function consolePage(name, hooks) {
  pages.set(name, hooks || {});
}

// Run fn now and every ms while the page that asked is shown (and the tab
// visible); one call at a time, a slow MI skips a beat instead of piling up.
function every(ms, fn) {
  const owner = current; // a quick second navigation may land before this runs
  let busy = false;
  let timer = null;
  const tick = async () => {
    if (current !== owner) { clearInterval(timer); return; }
    if (busy || document.hidden) return;
    busy = true;
    try { await fn(); } finally { busy = false; }
  };
  timer = setInterval(tick, ms);
  pageTimers.push(timer);
  return tick();
}

// '#/messages?id=X' -> {page: 'messages', args: URLSearchParams}
function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const [name, query] = h.split('?');
  const alias = { '': 'dashboard', overview: 'dashboard' };
  return { page: alias[name] !== undefined ? alias[name] : name, args: new URLSearchParams(query || '') };
}

async function showPage() {
  if (!session || session.must_change) return;
  let { page, args } = route();
  if (!pages.has(page)) page = 'dashboard';
  if (current && pages.get(current).leave) {
    try { await pages.get(current).leave(); } catch (e) { /* the page is gone anyway */ }
  }
  for (const t of pageTimers) clearInterval(t);
  pageTimers = [];
  current = page;
  for (const s of document.querySelectorAll('main [data-page]')) s.hidden = s.dataset.page !== page;
  for (const a of document.querySelectorAll('[data-tab]')) {
    a.classList.toggle('active', a.dataset.tab === page);
    if (a.dataset.tab === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const hooks = pages.get(page);
  document.title = `Junction — ${(document.querySelector(`[data-tab="${page}"]`) || {}).textContent || page}`;
  if (hooks.enter) {
    try { await hooks.enter(args); } catch (e) { banner(`${page}: ${errText(e)}`); }
  }
}

// --- session ----------------------------------------------------------------

function showView(which) {
  $('login-view').hidden = which !== 'login';
  $('passwd-view').hidden = which !== 'passwd';
  $('console').hidden = which !== 'console';
}

function showLogin(message) {
  const was = current;
  session = null; // first: a call the page's leave() makes cannot come back here
  current = null;
  for (const t of pageTimers) clearInterval(t);
  pageTimers = [];
  if (was && pages.get(was).leave) pages.get(was).leave();
  showView('login');
  setStatus('login-status', message || '', !!message);
  $('login-user').focus();
}

async function getSession() {
  let res;
  try {
    res = await fetch('/session', { headers: { Accept: 'application/json' } });
  } catch (e) {
    return { error: `cannot reach junction (${e.message})` };
  }
  if (res.status === 401) return null;
  if (!res.ok) return { error: `HTTP ${res.status} from /session` };
  return res.json();
}

async function enterSession(s) {
  session = s;
  $('hdr-user').textContent = `${s.user} (${s.role})`;
  $('hdr-user').dataset.role = s.role;
  $('logout').hidden = false;
  if (s.must_change) {
    $('pw-title').textContent = 'Choose a new password';
    $('pw-note').hidden = false;
    $('pw-cancel').textContent = 'Log out';
    showView('passwd');
    $('pw-old').focus();
    return;
  }
  showView('console');
  await loadRoles();
  try {
    const v = await mi('system.version');
    $('hdr-version').textContent = `v${v.version}`;
    setLink(true, 'connected');
  } catch (e) {
    setLink(false, 'disconnected');
  }
  await showPage();
}

async function login(ev) {
  ev.preventDefault();
  const btn = $('login-submit');
  btn.disabled = true;
  setStatus('login-status', '', false);
  let retry = 0;
  try {
    const res = await fetch('/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: $('login-user').value.trim(), password: $('login-password').value }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.ok) {
      $('login-password').value = '';
      await enterSession(body);
      return;
    }
    if (res.status === 429) {
      retry = Number(res.headers.get('Retry-After')) || 1;
      setStatus('login-status', `${body.error || 'Too many failed logins'}: try again in ${retry} s.`, true);
    } else {
      setStatus('login-status', body.error || `Login refused (HTTP ${res.status}).`, true);
    }
  } catch (e) {
    setStatus('login-status', `Cannot reach junction (${e.message}).`, true);
  } finally {
    if (retry) setTimeout(() => { btn.disabled = false; }, retry * 1000);
    else btn.disabled = false;
  }
}

async function changePassword(ev) {
  ev.preventDefault();
  const pw = $('pw-new').value;
  if (pw !== $('pw-again').value) {
    setStatus('pw-status', 'The two new passwords differ.', true);
    return;
  }
  try {
    await mi('users.passwd', { name: session.user, old_password: $('pw-old').value, password: pw });
    for (const id of ['pw-old', 'pw-new', 'pw-again']) $(id).value = '';
    setStatus('pw-status', '', false);
    const s = await getSession();
    if (s && !s.error) await enterSession(s); else showLogin('Password changed: log in with the new one.');
  } catch (e) {
    setStatus('pw-status', `Not changed: ${errText(e)}`, true);
  }
}

// One's own password, from the users page: the same form as the forced
// change, with a way back to the console.
function changeOwnPassword() {
  $('pw-title').textContent = 'Change your password';
  $('pw-note').hidden = true;
  $('pw-cancel').textContent = 'Back';
  showView('passwd');
  $('pw-old').focus();
}

function passwdCancel() {
  if (session && !session.must_change) { showView('console'); showPage(); } else logout();
}

async function logout() {
  const headers = { 'Content-Type': 'application/json' };
  if (session && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  try { await fetch('/logout', { method: 'POST', headers, body: '{}' }); } catch (e) { /* gone anyway */ }
  showLogin('');
}

async function start() {
  window.addEventListener('hashchange', showPage);
  $('login-form').addEventListener('submit', login);
  $('passwd-form').addEventListener('submit', changePassword);
  $('logout').addEventListener('click', logout);
  $('pw-cancel').addEventListener('click', passwdCancel);
  // The skip link moves the focus; following its #main would be a route.
  $('skip').addEventListener('click', (ev) => { ev.preventDefault(); $('main').focus(); });
  const s = await getSession();
  if (s === null) showLogin('');
  else if (s.error) { showView('console'); setLink(false, 'disconnected'); banner(s.error); }
  else await enterSession(s);
}

document.addEventListener('DOMContentLoaded', start);
