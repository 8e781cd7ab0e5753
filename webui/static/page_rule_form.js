// The rule form on the routes page: every field of a rule (docs/routing.md:
// source, each filter, each action and modifier) as form controls, both
// ways with the JSON editor of routing.js: "Form → editor" writes the rule
// the form describes into the editor, "Editor → form" reads the editor's
// rule into the form, and "Save from form" does the first and saves (add,
// or update of the rule being edited) through routing.js's saveRule.
//
// The form is one table, RF_FIELDS: a path in the rule, a label and a kind
// that says how the text of the control maps to JSON and back:
//   text  a string          int   an integer           bool  a checkbox
//   list  "a, b" -> ["a","b"] (a one-element list stays a list)
//   tags  "k=v, flag" -> {k: "v", flag: true}
//   targets "smsc-a, smsc-b*3" -> ["smsc-a", {connector: "smsc-b", weight: 3}]
//   windows "mon-fri 09:00-17:30; sat 10:00-14:00" -> [{days, from, to}]
//   select one of opts ('' leaves the field out)
//   tri   '' / yes / no -> absent / true / false
// So a field added to the rule language is one row here.
'use strict';

(() => {
  const ADDR_TYPES = 'international, national, short, alnum, sip-uri, tel-uri';
  const addr = (side, label) => [
    [`filters.${side}.prefix`, `${label} prefixes`, 'list'],
    [`filters.${side}.exact`, `${label} exact`, 'list'],
    [`filters.${side}.regex`, `${label} regex`, 'text'],
    [`filters.${side}.type`, `${label} types (${ADDR_TYPES})`, 'list'],
  ];
  const rewrite = (side) => ['strip:int', 'prefix:text', 'regex:text', 'replace:text', 'type:text', 'ton:int', 'npi:int', 'alnum:text']
    .map((x) => { const [k, kind] = x.split(':'); return [`action.rewrite.${side}.${k}`, `${side} ${k}`, kind]; });

  // [group, [[path, label, kind, opts?]...]]
  const RF_FIELDS = [
    ['Rule', [['name', 'Name', 'text'], ['priority', 'Priority', 'int'], ['enabled', 'Enabled', 'bool'],
      ['description', 'Description', 'text']]],
    ['Source (who sent it)', [['source.connector', 'Connectors', 'list'], ['source.smpp_account', 'SMPP accounts', 'list'],
      ['source.sip_domain', 'SIP domains', 'list'], ['source.sip_peer', 'SIP peers (ip[:port])', 'list'],
      ['source.amqp_queue', 'AMQP queues', 'list'], ['source.api_key', 'API keys', 'list']]],
    ['Filters', [...addr('dst', 'To'), ...addr('src', 'From'), ['filters.body.regex', 'Body regex', 'text'],
      ['filters.tags', 'Tags (k=v, flag)', 'tags'], ['filters.time.tz', 'Time zone', 'text'],
      ['filters.time.windows', 'Time windows (mon-fri 09:00-17:30; …)', 'windows'],
      ['filters.length.chars.min', 'Chars min', 'int'], ['filters.length.chars.max', 'Chars max', 'int'],
      ['filters.length.parts.min', 'Parts min', 'int'], ['filters.length.parts.max', 'Parts max', 'int'],
      ['filters.coding', 'Coding (gsm, ucs2, binary)', 'list']]],
    ['Action', [['action.kind', 'Action', 'select', ['route', 'reject', 'drop']],
      ['action.route.strategy', 'Strategy', 'select', ['', 'failover', 'round_robin', 'weighted', 'least_cost']],
      ['action.route.targets', 'Targets (name or name*weight)', 'targets'], ['action.route.rates', 'Rate table', 'text'],
      ['action.reject.sip_status', 'Reject SIP status', 'int'], ['action.reject.smpp_status', 'Reject SMPP status', 'int'],
      ['action.reject.reason', 'Reject reason', 'text'], ['action.drop.reason', 'Drop reason', 'text']]],
    ['Rewrite', [...rewrite('dst'), ...rewrite('src')]],
    ['Set, mirror, rate limit', [['action.set.tags', 'Set tags (k=v)', 'tags'], ['action.set.headers', 'Publish headers (name=value)', 'tags'], ['action.set.validity_s', 'Validity (s)', 'int'],
      ['action.set.receipt', 'Receipt', 'tri'], ['action.mirror.exchange', 'Mirror exchange', 'text'],
      ['action.mirror.routing_key', 'Mirror routing key', 'text'], ['action.rate_limit.rate', 'Rate (msg/s)', 'int'],
      ['action.rate_limit.burst', 'Burst', 'int'], ['action.rate_limit.over', 'Over the limit', 'select', ['', 'reject', 'queue']],
      ['action.rate_limit.sip_status', 'Limit SIP status', 'int'], ['action.rate_limit.smpp_status', 'Limit SMPP status', 'int']]],
  ];
  const ACTION_KINDS = ['route', 'reject', 'drop'];
  const fid = (path) => `rf-${path.replace(/\./g, '-')}`;

  // --- text <-> JSON for each kind --------------------------------------

  const split = (s, re = /\s*,\s*/) => s.split(re).map((x) => x.trim()).filter(Boolean);
  const PARSE = {
    text: (s) => s,
    int: (s) => { const n = Number(s); if (!Number.isInteger(n)) throw new Error(`"${s}" is not a whole number`); return n; },
    list: (s) => split(s),
    tags: (s) => Object.fromEntries(split(s).map((x) => { const i = x.indexOf('='); return i < 0 ? [x, true] : [x.slice(0, i), x.slice(i + 1)]; })),
    targets: (s) => split(s).map((x) => { const m = x.match(/^(.*)\*(\d+)$/); return m ? { connector: m[1], weight: Number(m[2]) } : x; }),
    windows: (s) => split(s, /\s*;\s*/).map((w) => {
      const m = w.match(/^(?:(\S+)\s+)?(\d\d:\d\d)-(\d\d:\d\d)$/);
      if (!m) throw new Error(`window "${w}" is not "days HH:MM-HH:MM"`);
      return m[1] ? { days: m[1].includes(',') ? m[1].split(',') : m[1], from: m[2], to: m[3] } : { from: m[2], to: m[3] };
    }),
    select: (s) => s,
    tri: (s) => s === 'yes',
  };
  const list = (v) => (Array.isArray(v) ? v : [v]);
  const SHOW = {
    text: String, int: String, select: String,
    list: (v) => list(v).join(', '),
    tags: (v) => Object.entries(v).map(([k, x]) => (x === true ? k : `${k}=${x}`)).join(', '),
    targets: (v) => list(v).map((t) => (typeof t === 'object' ? `${t.connector}${t.weight ? `*${t.weight}` : ''}` : t)).join(', '),
    windows: (v) => list(v).map((w) => `${w.days ? `${list(w.days).join(',')} ` : ''}${w.from}-${w.to}`).join('; '),
    tri: (v) => (v ? 'yes' : 'no'),
  };

  const getPath = (o, path) => path.split('.').reduce((x, k) => (x === undefined || x === null ? undefined : x[k]), o);
  function setPath(o, path, v) {
    const ks = path.split('.');
    let x = o;
    for (const k of ks.slice(0, -1)) x = x[k] = x[k] && typeof x[k] === 'object' ? x[k] : {};
    x[ks[ks.length - 1]] = v;
  }

  // --- the form -----------------------------------------------------------

  function control([path, label, kind, opts]) {
    let input;
    if (kind === 'bool') input = el('input', { type: 'checkbox', id: fid(path) });
    else if (kind === 'select') input = el('select', { id: fid(path) }, ...opts.map((o) => el('option', { value: o, text: o || '—' })));
    else if (kind === 'tri') input = el('select', { id: fid(path) }, ...[['', 'unchanged'], ['yes', 'request'], ['no', 'do not request']].map(([v, t]) => el('option', { value: v, text: t })));
    else input = el('input', { id: fid(path), type: kind === 'int' ? 'number' : 'text', step: kind === 'int' ? '1' : undefined,
      list: path === 'action.route.targets' ? 'connector-names' : path === 'action.route.rates' ? 'rate-names' : undefined });
    input.dataset.path = path;
    input.dataset.kind = kind;
    return el('label', { class: kind === 'bool' ? 'check' : '', 'data-for': path }, label, input);
  }

  function build() {
    const form = el('form', { id: 'rule-form', class: 'route-form', autocomplete: 'off', 'data-method': 'routes.add' },
      el('h3', { text: 'Rule form' }),
      el('p', { class: 'muted small', text: 'Every filter and action of a rule; empty fields are left out (docs/routing.md).' }),
      ...RF_FIELDS.map(([legend, fields], i) => {
        const box = el('div', { class: 'fields' }, ...fields.map(control));
        return i < 4 ? el('fieldset', {}, el('legend', { text: legend }), box)
          : el('details', {}, el('summary', { text: legend }), box);
      }),
      el('div', { class: 'form-actions' },
        el('button', { type: 'submit', id: 'rf-save', text: 'Save from form' }),
        el('button', { type: 'button', id: 'rf-to-json', class: 'ghost', text: 'Form → editor' }),
        el('button', { type: 'button', id: 'rf-from-json', class: 'ghost', text: 'Editor → form' }),
        el('span', { id: 'rf-status', class: 'form-status', role: 'status', 'aria-live': 'polite' })));
    $('rule-form-slot').replaceWith(form);
    $(fid('action.kind')).addEventListener('change', showKind);
    $('rf-to-json').addEventListener('click', () => { const r = formRule(); if (r) writeEditor(r); });
    $('rf-from-json').addEventListener('click', fromEditor);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = formRule();
      if (!r) return;
      writeEditor(r);
      if (await saveRule()) setStatus('rf-status', 'Saved.', false);
      else setStatus('rf-status', 'Not saved: see the editor.', true);
    });
    showKind();
  }

  // Only the chosen action's fields show.
  function showKind() {
    const kind = $(fid('action.kind')).value;
    for (const k of ACTION_KINDS) {
      for (const lab of document.querySelectorAll(`#rule-form label[data-for^="action.${k}."]`)) lab.hidden = k !== kind;
    }
  }

  // The rule the form describes, or null (with the reason shown).
  function formRule() {
    const rule = {};
    try {
      for (const e of document.querySelectorAll('#rule-form [data-path]')) {
        const { path, kind } = e.dataset;
        if (path === 'action.kind') continue;
        const k = path.split('.')[1];
        if (path.startsWith('action.') && ACTION_KINDS.includes(k) && k !== $(fid('action.kind')).value) continue;
        if (kind === 'bool') { setPath(rule, path, e.checked); continue; }
        if (e.value.trim() === '') continue;
        setPath(rule, path, PARSE[kind](e.value.trim()));
      }
    } catch (err) {
      setStatus('rf-status', err.message, true);
      return null;
    }
    rule.action = rule.action || {};
    const kind = $(fid('action.kind')).value;
    if (kind === 'drop' && !rule.action.drop) rule.action.drop = true;
    if (kind === 'reject' && !rule.action.reject) rule.action.reject = true;
    if (kind === 'route' && !rule.action.route) rule.action.route = {};
    setStatus('rf-status', '', false);
    return rule;
  }

  function writeEditor(rule) {
    const old = (() => { try { return JSON.parse($('re-json').value); } catch (e) { return {}; } })();
    if (old && old.id !== undefined && editingId !== null) rule = { id: old.id, ...rule };
    $('re-json').value = JSON.stringify(rule, null, 2);
  }

  function fromEditor() {
    let rule;
    try { rule = JSON.parse($('re-json').value); } catch (e) { setStatus('rf-status', `The editor's text is not JSON: ${e.message}`, true); return; }
    const a = rule.action || {};
    $(fid('action.kind')).value = ACTION_KINDS.find((k) => a[k] !== undefined) || 'route';
    for (const e of document.querySelectorAll('#rule-form [data-path]')) {
      const { path, kind } = e.dataset;
      if (path === 'action.kind') continue;
      const v = getPath(rule, path);
      if (kind === 'bool') e.checked = v !== false;
      else e.value = v === undefined || v === null || typeof v === 'boolean' && kind !== 'tri' ? '' : SHOW[kind](v);
    }
    showKind();
    setStatus('rf-status', 'The form shows the editor\'s rule.', false);
  }

  document.addEventListener('DOMContentLoaded', build);
})();
