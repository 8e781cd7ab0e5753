// Junction web UI: the pages, dashboard, live connectors and the MI client
// that routing.js (rules, dry run, rate tables) uses too.  Talks to the
// daemon only through the JSON-RPC MI (POST /mi).  Everything is rendered with DOM
// calls and textContent, never innerHTML, so data cannot inject markup.
'use strict';

const REFRESH_MS = 2000;
const COUNTERS_SHOWN = 12;

let rpcSeq = 0;
let showAllCounters = false;
let lastCounters = {};

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

// The session: its CSRF token goes with every MI call (GET /session or
// POST /login gave it); a 401 means the session ended: log in again.
let csrf = '';
// Resolved once logged in: the other scripts (routing.js) start after it.
let sessionResolve;
const sessionReady = new Promise((r) => { sessionResolve = r; });

async function post(payload) {
  let res;
  try {
    res = await fetch('/mi', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(payload),
    });
  } catch (e) {
    throw new MiError(`cannot reach junction (${e.message})`);
  }
  if (res.status === 401) { showLogin(); throw new MiError('logged out: log in again'); }
  if (!res.ok && res.status !== 403) throw new MiError(`HTTP ${res.status} from /mi`);
  return res.json();
}

// --- login ----------------------------------------------------------------

function showLogin() {
  document.getElementById('app-main').hidden = true;
  document.getElementById('login').hidden = false;
  document.getElementById('login-form').hidden = false;
  document.getElementById('passwd-form').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('login-user').focus();
}

function showApp(info) {
  csrf = info.csrf;
  document.getElementById('whoami').textContent = `${info.user} (${info.role})`;
  document.getElementById('logout').hidden = false;
  if (info.must_change) {
    document.getElementById('login').hidden = false;
    document.getElementById('login-form').hidden = true;
    document.getElementById('passwd-form').hidden = false;
    document.getElementById('passwd-new').focus();
    return false;
  }
  document.getElementById('login').hidden = true;
  document.getElementById('app-main').hidden = false;
  return true;
}

function formError(id, text) {
  const el = document.getElementById(id);
  el.textContent = text;
  el.hidden = !text;
}

// Resolves once a session that may work exists.
function waitLogin() {
  return new Promise((resolve) => {
    let oldPassword = '';
    let info = null;
    document.getElementById('login-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      oldPassword = document.getElementById('login-password').value;
      const res = await fetch('/login', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ user: document.getElementById('login-user').value, password: oldPassword }),
      });
      const body = await res.json().catch(() => ({}));
      if (res.status === 429) { formError('login-error', `${body.error} (${res.headers.get('Retry-After')} s)`); return; }
      if (!res.ok) { formError('login-error', body.error || `HTTP ${res.status}`); return; }
      formError('login-error', '');
      info = body;
      if (showApp(info)) resolve(info);
    });
    document.getElementById('passwd-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await mi('users.passwd', { old_password: oldPassword, password: document.getElementById('passwd-new').value });
      } catch (e) { formError('passwd-error', e.describe()); return; }
      info.must_change = false;
      if (showApp(info)) resolve(info);
    });
  });
}

async function ensureSession() {
  const res = await fetch('/session');
  if (res.ok) {
    const info = await res.json();
    if (showApp(info)) return info;
  } else {
    showLogin();
  }
  return waitLogin();
}

function request(method, params) {
  return { jsonrpc: '2.0', id: ++rpcSeq, method, params: params || {} };
}

// One MI call: resolves to the result, rejects with a MiError.
async function mi(method, params) {
  const body = await post(request(method, params));
  if (body.error) throw new MiError(body.error.message, body.error.code, body.error.data);
  return body.result;
}

// Several calls in one JSON-RPC batch: an array of {result} or {error} in
// the order of calls.
async function miBatch(calls) {
  const reqs = calls.map(([m, p]) => request(m, p));
  const replies = await post(reqs);
  const byId = new Map((Array.isArray(replies) ? replies : [replies]).map((r) => [r.id, r]));
  return reqs.map((q) => {
    const r = byId.get(q.id);
    if (!r) return { error: new MiError('no reply in batch') };
    if (r.error) return { error: new MiError(r.error.message, r.error.code, r.error.data) };
    return { result: r.result };
  });
}

// --- small DOM helpers --------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
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

function fmtTime(v) {
  if (v === undefined || v === null) return '';
  const d = typeof v === 'number' ? new Date(v > 1e12 ? v : v * 1000) : new Date(v);
  return isNaN(d) ? String(v) : `since ${d.toLocaleString()}`;
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

// --- dashboard ----------------------------------------------------------

function renderVersion(v) {
  $('hdr-version').textContent = `v${v.version}`;
  $('dash-version').textContent = v.version;
  const libs = v.libraries ? Object.entries(v.libraries).map(([k, x]) => `${k} ${x}`).join(', ') : '';
  $('dash-build').textContent = [v.build, libs].filter(Boolean).join(' · ');
  $('dash-build').title = libs;
}

function renderUptime(u) {
  $('dash-uptime').textContent = fmtDuration(u.uptime_s);
  $('dash-started').textContent = fmtTime(u.started_at);
}

function renderCounters(counters) {
  lastCounters = counters || {};
  const names = Object.keys(lastCounters).sort();
  const shown = showAllCounters ? names : names.slice(0, COUNTERS_SHOWN);
  const box = $('counters');
  box.replaceChildren(...(shown.length ? shown.map((n) => el('div', { class: 'counter' },
    el('span', { class: 'counter-name', text: n }),
    el('span', { class: 'counter-value', text: Number(lastCounters[n]).toLocaleString() })))
    : [el('span', { class: 'muted', text: 'no counters yet' })]));
  const more = $('counters-more');
  more.hidden = names.length <= COUNTERS_SHOWN;
  more.textContent = showAllCounters ? 'show fewer' : `show all ${names.length}`;
}

// --- connectors ---------------------------------------------------------

function stateClass(state) {
  const s = String(state || '').toLowerCase();
  if (['up', 'bound', 'connected', 'open', 'ready', 'running', 'listening'].includes(s)) return 'ok';
  if (['connecting', 'binding', 'starting', 'reconnecting', 'throttled'].includes(s)) return 'warn';
  if (['disabled', 'stopped', 'closed', 'idle'].includes(s)) return 'idle';
  return 'bad';
}

function connectorDetails(c) {
  const parts = [];
  const st = c.status || {};
  for (const [k, v] of Object.entries(st)) {
    if (k !== 'state') parts.push([k, v]);
  }
  const conf = c.conf || {};
  if (conf.host !== undefined && st.peer === undefined) parts.push(['peer', `${conf.host}${conf.port !== undefined ? ':' + conf.port : ''}`]);
  const span = el('span', { class: 'details' });
  parts.forEach(([k, v], i) => {
    if (i) span.append(' · ');
    span.append(`${k} `, el('b', { text: showText(v) }));
  });
  if (!parts.length) span.textContent = '—';
  return span;
}

function renderConnectors(list) {
  const rows = (list || []).map((c) => {
    const state = c.status && c.status.state !== undefined ? c.status.state : 'unknown';
    return el('tr', { 'data-name': c.name },
      el('td', { class: 'mono', text: c.name }),
      el('td', { text: c.type }),
      el('td', {}, el('span', { class: `badge ${stateClass(state)}`, text: state })),
      el('td', { text: c.enabled === false ? 'no' : 'yes' }),
      el('td', {}, connectorDetails(c)));
  });
  fillBody($('conn-table'), rows, 5, 'no connectors configured');
  const up = (list || []).filter((c) => c.status && stateClass(c.status.state) === 'ok').length;
  $('dash-conn-up').textContent = String(up);
  $('dash-conn-total').textContent = `of ${(list || []).length} configured`;
  $('connector-names').replaceChildren(...(list || []).map((c) => el('option', { value: c.name })));
}

// --- pages --------------------------------------------------------------

// The pages are sections tagged data-page; the URL's #hash picks one.
function showPage() {
  const want = (location.hash || '#overview').slice(1);
  const known = [...document.querySelectorAll('[data-tab]')].map((a) => a.dataset.tab);
  const page = known.includes(want) ? want : 'overview';
  for (const s of document.querySelectorAll('[data-page]')) s.hidden = s.dataset.page !== page;
  for (const a of document.querySelectorAll('[data-tab]')) {
    a.classList.toggle('active', a.dataset.tab === page);
    if (a.dataset.tab === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

// --- the refresh loop ---------------------------------------------------

async function refresh() {
  try {
    const [stats, up, conns] = await miBatch([
      ['stats.get'], ['system.uptime'], ['connectors.list']]);
    const errors = [];
    if (stats.result) renderCounters(stats.result.counters); else errors.push(`stats.get: ${stats.error.describe()}`);
    if (up.result) renderUptime(up.result); else errors.push(`system.uptime: ${up.error.describe()}`);
    if (conns.result) renderConnectors(conns.result); else errors.push(`connectors.list: ${conns.error.describe()}`);
    setLink(true, 'connected');
    banner(errors.join(' — '));
  } catch (e) {
    setLink(false, 'disconnected');
    banner(e.describe ? e.describe() : String(e));
  }
}

async function start() {
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    location.reload();
  });
  await ensureSession();
  sessionResolve();
  window.addEventListener('hashchange', showPage);
  showPage();
  $('counters-more').addEventListener('click', () => {
    showAllCounters = !showAllCounters;
    renderCounters(lastCounters);
  });
  try {
    renderVersion(await mi('system.version'));
  } catch (e) {
    banner(e.describe ? e.describe() : String(e));
  }
  await refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
}

document.addEventListener('DOMContentLoaded', start);
