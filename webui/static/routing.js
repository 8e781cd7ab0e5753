// Junction web console, the routes page: the rules (table with drag to
// reorder, JSON editor, quick form; page_rule_form.js adds the full form).
// page_dryrun.js and page_rates.js are the dry run and the rate tables.
// Uses app.js's MI client (mi, MiError) and DOM helpers (el, $, fillBody);
// like app.js it renders with DOM calls and textContent only, never
// innerHTML.
//
// Every change goes through the MI as one call (routes.add / update /
// enable / disable / reorder / delete, rates.import / delete) and the
// tables are then read again, so what is shown is what the daemon holds.
// A refused change shows the MI's errors (every compile error with its rule
// and path, every bad CSV line with its number) and the daemon stores
// nothing (docs/mi.md, "how a change applies").
'use strict';

// The fields of a rule that routes.update takes (docs/mi.md).
const RULE_FIELDS = ['name', 'priority', 'enabled', 'description', 'source', 'filters', 'action'];

let rulesNow = [];     // routes.list as last read
// Fill the connector-names datalist (targets, sources) from connectors.list.
let connectorNames = () => Promise.resolve();
let editingId = null;  // the rule in the editor, null for a new one
let editingRule = null;

// The rule's own JSON, without the flat v3 columns routes.list adds.
function ruleJson(r) {
  const o = { id: r.id };
  for (const k of RULE_FIELDS) if (r[k] !== undefined && r[k] !== null) o[k] = r[k];
  return o;
}

// --- the one-line summary ----------------------------------------------

const list = (v) => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);

function addrSummary(label, f) {
  const parts = [];
  if (!f) return parts;
  if (f.prefix !== undefined) parts.push(`${label} ${list(f.prefix).map((p) => `${p}…`).join(' | ')}`);
  if (f.exact !== undefined) parts.push(`${label} = ${list(f.exact).join(' | ')}`);
  if (f.type !== undefined) parts.push(`${label} type ${list(f.type).join(' | ')}`);
  if (f.regex !== undefined) parts.push(`${label} ~ /${f.regex}/`);
  return parts;
}

function range(label, r) {
  if (!r) return [];
  if (r.min !== undefined && r.max !== undefined) return [`${label} ${r.min}–${r.max}`];
  if (r.max !== undefined) return [`${label} ≤ ${r.max}`];
  if (r.min !== undefined) return [`${label} ≥ ${r.min}`];
  return [];
}

function filtersSummary(r) {
  const f = r.filters || {};
  const parts = [];
  for (const [k, v] of Object.entries(r.source || {})) parts.push(`${k} ${list(v).join(' | ')}`);
  parts.push(...addrSummary('dst', f.dst), ...addrSummary('src', f.src));
  if (f.body && f.body.regex !== undefined) parts.push(`body ~ /${f.body.regex}/`);
  for (const [k, v] of Object.entries(f.tags || {})) parts.push(v === true ? `tag ${k}` : `tag ${k}=${v}`);
  if (f.time) {
    const w = list(f.time.windows).map((x) => `${list(x.days).join(',') || 'daily'} ${x.from || ''}–${x.to || ''}`);
    parts.push(`time ${f.time.tz || ''} ${w.join(', ')}`.trim());
  }
  if (f.length) parts.push(...range('chars', f.length.chars), ...range('parts', f.length.parts));
  if (f.coding !== undefined) parts.push(`coding ${list(f.coding).join(' | ')}`);
  return parts.length ? parts.join(', ') : 'everything';
}

const targetName = (t) => (typeof t === 'object' && t !== null ? t.connector : String(t));

function actionSummary(a) {
  a = a || {};
  let s;
  if (a.route) {
    const ts = list(a.route.targets);
    const st = a.route.strategy || 'failover';
    if (st === 'least_cost') {
      s = `least cost ${a.route.rates || '?'}${ts.length ? ` among ${ts.map(targetName).join(', ')}` : ''}`;
    } else if (st === 'weighted') {
      s = `weighted ${ts.map((t) => `${targetName(t)}×${(t && t.weight) || 1}`).join(', ')}`;
    } else {
      s = `${st === 'round_robin' ? 'round robin ' : ''}${ts.map(targetName).join(', ')}`;
    }
  } else if (a.reject) {
    const j = a.reject === true ? {} : a.reject;
    s = `reject SIP ${j.sip_status || 403}${j.reason ? ` (${j.reason})` : ''}`;
  } else if (a.drop) {
    s = `drop${a.drop.reason ? ` (${a.drop.reason})` : ''}`;
  } else {
    s = '?';
  }
  const mods = [];
  if (a.rewrite) mods.push(`rewrite ${Object.keys(a.rewrite).join(', ')}`);
  if (a.set) mods.push(`set ${Object.keys(a.set).join(', ')}`);
  if (a.mirror) mods.push(`mirror ${a.mirror.exchange || ''}`.trim());
  if (a.rate_limit) mods.push(`limit ${a.rate_limit.rate}/s`);
  return `${s}${mods.length ? ` · ${mods.join(' · ')}` : ''}`;
}

const ruleSummary = (r) => `${filtersSummary(r)} → ${actionSummary(r.action)}`;

// --- the rules table ----------------------------------------------------

// Run one change, then read the rules again; errors go to the table's status.
async function ruleChange(what, method, params) {
  try {
    await mi(method, params);
    setStatus('rules-status', what, false);
  } catch (e) {
    setStatus('rules-status', errText(e), true);
  }
  await loadRules();
}

// Swap rule i with its neighbour i+dir: routes.reorder gives the two the
// priorities they hold between them in the order listed.
function moveRule(i, dir) {
  const a = rulesNow[i], b = rulesNow[i + dir];
  return ruleChange(`Rule “${a.name}” moved ${dir < 0 ? 'up' : 'down'}.`, 'routes.reorder',
    { order: dir < 0 ? [a.id, b.id] : [b.id, a.id] });
}

// Drag a row by its handle onto another: the dragged rule takes the
// dropped-on rule's place and routes.reorder gives the whole list the
// priorities it holds between them in the new order.  The up/down buttons
// do the same from the keyboard.
let dragFrom = null;

function dropRule(to) {
  const from = dragFrom;
  dragFrom = null;
  if (from === null || from === to) return undefined;
  const ids = rulesNow.map((r) => r.id);
  const [moved] = ids.splice(from, 1);
  ids.splice(to, 0, moved);
  return ruleChange(`Rule “${rulesNow[from].name}” moved to place ${to + 1}.`, 'routes.reorder', { order: ids });
}

function dragHandlers(row, i) {
  row.addEventListener('dragstart', (ev) => {
    dragFrom = i;
    ev.dataTransfer.effectAllowed = 'move';
    ev.dataTransfer.setData('text/plain', String(rulesNow[i].id));
    row.classList.add('dragging');
  });
  row.addEventListener('dragend', () => row.classList.remove('dragging'));
  row.addEventListener('dragover', (ev) => { if (dragFrom !== null) { ev.preventDefault(); row.classList.add('drop-here'); } });
  row.addEventListener('dragleave', () => row.classList.remove('drop-here'));
  row.addEventListener('drop', (ev) => { ev.preventDefault(); row.classList.remove('drop-here'); dropRule(i); });
}

function ruleRow(r, i) {
  const toggle = el('input', { type: 'checkbox', class: 'rule-enabled', title: 'enabled' });
  toggle.checked = r.enabled !== false;
  toggle.addEventListener('change', () => ruleChange(
    `Rule “${r.name}” ${toggle.checked ? 'enabled' : 'disabled'}.`,
    toggle.checked ? 'routes.enable' : 'routes.disable', { id: r.id }));
  guard(toggle, 'routes.enable');
  const up = el('button', { type: 'button', class: 'ghost mini move-up', text: '↑', title: 'move up', 'aria-label': `move ${r.name} up` });
  const down = el('button', { type: 'button', class: 'ghost mini move-down', text: '↓', title: 'move down', 'aria-label': `move ${r.name} down` });
  guard(up, 'routes.reorder');
  guard(down, 'routes.reorder');
  if (i === 0) up.disabled = true;
  if (i === rulesNow.length - 1) down.disabled = true;
  up.addEventListener('click', () => moveRule(i, -1));
  down.addEventListener('click', () => moveRule(i, 1));
  const edit = el('button', { type: 'button', class: 'ghost mini edit', text: 'Edit' });
  edit.addEventListener('click', () => editRule(r));
  const del = confirmButton('Delete', () => ruleChange(`Rule “${r.name}” deleted.`, 'routes.delete', { id: r.id }), 'routes.delete');
  const handle = el('span', { class: 'handle', text: '⠿', title: 'drag to reorder', 'aria-hidden': 'true' });
  const row = el('tr', { 'data-id': String(r.id), 'data-name': r.name, class: r.enabled === false ? 'off' : '',
    draggable: can('routes.reorder') ? 'true' : 'false' },
    el('td', { class: 'num', text: String(r.priority) }),
    el('td', { class: 'num', text: String(r.id) }),
    el('td', { class: 'mono', text: r.name }),
    el('td', {}, toggle),
    el('td', { class: 'summary', text: ruleSummary(r), title: r.description || '' }),
    el('td', { class: 'nowrap' }, handle, up, down),
    el('td', { class: 'nowrap' }, edit, del));
  dragHandlers(row, i);
  return row;
}

function renderRules(rules) {
  rulesNow = rules || [];
  // The rule in the editor is gone (deleted here or elsewhere): its text
  // stays, but saving it adds a new rule; ids are reused, so an update by
  // the old id could overwrite another rule.
  if (editingId !== null && !rulesNow.some((r) => r.id === editingId)) {
    setStatus('re-status', `Rule ${editingId} no longer exists: saving adds the text as a new rule.`, true);
    editingId = null;
    editingRule = null;
    $('re-title').textContent = 'New rule';
    $('re-save').textContent = 'Add rule';
  }
  fillBody($('rules-table'), rulesNow.map(ruleRow), 7, 'no rules yet: write one below');
  $('dash-routes').textContent = String(rulesNow.length);
}

async function loadRules() {
  try {
    renderRules(await mi('routes.list'));
  } catch (e) {
    banner(`Rules: ${errText(e)}`);
  }
}

// --- the editor ---------------------------------------------------------

function nextPriority() {
  return rulesNow.reduce((m, r) => Math.max(m, Number(r.priority) || 0), 0) + 10;
}

function template() {
  return {
    name: 'uk-mobile',
    priority: nextPriority(),
    enabled: true,
    description: 'UK mobiles to the first SMSC that is up',
    filters: { dst: { prefix: ['447'] } },
    action: { route: { strategy: 'failover', targets: ['smsc-a'] } },
  };
}

function openEditor(id, rule, json) {
  editingId = id;
  editingRule = rule;
  $('re-title').textContent = id === null ? 'New rule' : `Edit rule ${id}`;
  $('re-save').textContent = id === null ? 'Add rule' : 'Save rule';
  $('re-json').value = JSON.stringify(json, null, 2);
  setStatus('re-status', '', false);
  showErrors('re-errors', []);
}

function newRule() {
  openEditor(null, null, template());
}

function editRule(r) {
  openEditor(r.id, ruleJson(r), ruleJson(r));
  $('re-json').focus();
}

// The MI's error: each compile error {rule, path, message} as a line,
// else the error itself.
function miErrorItems(e) {
  if (e instanceof MiError && Array.isArray(e.data) && e.data.length) {
    return e.data.map((d) => el('li', { class: 'compile-error' },
      el('span', { class: 'err-rule', text: d.rule !== undefined ? `rule ${d.rule}` : '' }), ' ',
      el('span', { class: 'err-path mono', text: d.path || '' }), ': ',
      el('span', { class: 'err-msg', text: d.message || d.text || '' })));
  }
  return [el('li', { text: errText(e) })];
}

// routes.add for a new rule; routes.update for the one being edited, with
// null for every field the editor dropped (null removes it).
function saveCall(rule) {
  if (editingId === null) return ['routes.add', rule];
  const p = { id: editingId };
  for (const k of RULE_FIELDS) {
    if (rule[k] !== undefined) p[k] = rule[k];
    else if (editingRule && editingRule[k] !== undefined) p[k] = null;
  }
  return ['routes.update', p];
}

// Returns true when the rule was stored.
async function saveRule(ev) {
  if (ev) ev.preventDefault();
  let rule;
  try {
    rule = JSON.parse($('re-json').value);
  } catch (e) {
    setStatus('re-status', 'Not saved: the text is not valid JSON.', true);
    showErrors('re-errors', [el('li', { text: `JSON: ${e.message}` })]);
    return false;
  }
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) {
    setStatus('re-status', 'Not saved: a rule is one JSON object.', true);
    showErrors('re-errors', []);
    return false;
  }
  if (editingId !== null && rule.id !== undefined && rule.id !== editingId) {
    setStatus('re-status', `Not saved: this editor holds rule ${editingId}; its id cannot change.`, true);
    showErrors('re-errors', []);
    return false;
  }
  const [method, params] = saveCall(rule);
  $('re-save').disabled = true;
  try {
    const res = await mi(method, params);
    const id = editingId !== null ? editingId : res && res.id;
    await loadRules();
    const stored = rulesNow.find((r) => r.id === id);
    if (stored) openEditor(id, ruleJson(stored), ruleJson(stored));
    else showErrors('re-errors', []);
    setStatus('re-status', `Rule ${id} “${rule.name || ''}” ${method === 'routes.add' ? 'added' : 'saved'}.`, false);
    return true;
  } catch (e) {
    setStatus('re-status', `Not saved: ${e.message}`, true);
    showErrors('re-errors', miErrorItems(e));
    return false;
  } finally {
    $('re-save').disabled = false;
  }
}

const splitList = (s) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

// The quick form: the common rule (destination prefixes, targets, a
// strategy) as JSON in the editor, added like any other.
async function quickRule(ev) {
  ev.preventDefault();
  const f = ev.target;
  const rule = { name: f.name.value.trim(), priority: Number(f.priority.value), enabled: true };
  const prefixes = splitList(f.prefixes.value);
  if (prefixes.length) rule.filters = { dst: { prefix: prefixes } };
  const route = { strategy: f.strategy.value };
  const targets = splitList(f.targets.value);
  if (targets.length) route.targets = targets;
  if (route.strategy === 'least_cost' && f.rates.value.trim()) route.rates = f.rates.value.trim();
  rule.action = { route };
  openEditor(null, null, rule);
  if (await saveRule()) {
    f.reset();
    $('qf-priority').value = String(nextPriority());
  }
}

// --- start --------------------------------------------------------------

function startRouting() {
  for (const [id, m] of [['rule-editor', 'routes.add'], ['quick-form', 'routes.add'], ['rules-new', 'routes.add']]) {
    $(id).dataset.method = m;
  }
  $('rules-refresh').addEventListener('click', loadRules);
  $('rules-new').addEventListener('click', () => { newRule(); $('re-json').focus(); });
  $('re-reset').addEventListener('click', newRule);
  $('rule-editor').addEventListener('submit', saveRule);
  $('quick-form').addEventListener('submit', quickRule);
  connectorNames = () => mi('connectors.list').then((l) => $('connector-names')
    .replaceChildren(...l.map((c) => el('option', { value: c.name })))).catch(() => {});
  let editorStarted = false;
  consolePage('rules', {
    enter: async () => {
      await Promise.all([loadRules(), connectorNames()]);
      if (!editorStarted) {
        editorStarted = true;
        newRule();
        $('qf-priority').value = String(nextPriority());
      }
    },
  });
}

document.addEventListener('DOMContentLoaded', startRouting);
