// Two read-only pages: diagnose (the MI's `diagnose`: an overall status,
// one row per area and each problem with its cause and advice) and the
// audit log (`audit.list`: who changed what, through which way in, with
// the configuration before and after).  A server without the method
// (-32601) shows "not available".
'use strict';

(() => {
  const statusClass = (s) => ({ OK: 'ok', WARNING: 'warn', CRITICAL: 'bad' }[String(s).toUpperCase()] || 'idle');

  function unavailable(sec, title, e) {
    sec.replaceChildren(el('h2', { id: `${sec.id === 'diagnose' ? 'diag' : 'audit'}-title`, text: title }),
      el('p', { class: notAvailable(e) ? 'muted not-available' : e.code === -32003 ? 'muted' : 'form-status error',
        text: notAvailable(e) ? 'not available on this server' : e.message }));
  }

  async function diagnose() {
    const sec = $('diagnose');
    let d;
    try {
      d = await miIf('diagnose');
    } catch (e) {
      unavailable(sec, 'Diagnose', e);
      return;
    }
    const areas = (d.areas || []).map((a) => el('tr', { 'data-area': a.area },
      el('td', { class: 'mono', text: a.area }), el('td', {}, el('span', { class: `badge ${statusClass(a.status)}`, text: a.status })),
      el('td', { text: showText(a.detail) })));
    const problems = (d.problems || []).map((p) => el('li', { class: `problem ${statusClass(p.status)}` },
      el('div', {}, el('span', { class: `badge ${statusClass(p.status)}`, text: p.status }), ' ',
        el('b', { text: `${p.area}${p.subject ? `: ${p.subject}` : ''}` })),
      el('div', {}, el('span', { class: 'muted', text: 'Cause: ' }), p.cause || ''),
      el('div', {}, el('span', { class: 'muted', text: 'Advice: ' }), p.advice || '')));
    const table = el('table', { class: 'grid', id: 'diag-areas' },
      el('thead', {}, el('tr', {}, el('th', { text: 'Area' }), el('th', { text: 'Status' }), el('th', { text: 'Detail' }))),
      el('tbody', {}));
    fillBody(table, areas, 3, 'no areas');
    sec.replaceChildren(
      el('div', { class: 'section-head' }, el('h2', { id: 'diag-title', text: 'Diagnose' }),
        el('button', { type: 'button', id: 'diag-refresh', class: 'ghost', text: 'Run again', onclick: diagnose })),
      el('p', {}, 'Overall: ', el('span', { id: 'diag-status', class: `badge ${statusClass(d.status)}`, text: d.status })),
      table,
      el('h3', { text: 'Problems' }),
      problems.length ? el('ul', { id: 'diag-problems', class: 'problems' }, ...problems)
        : el('p', { id: 'diag-problems', class: 'muted', text: 'none' }));
  }

  function auditRow(a) {
    const change = el('details', {}, el('summary', { text: 'before / after' }),
      el('pre', { class: 'mono', text: `params: ${JSON.stringify(a.params)}\nbefore: ${JSON.stringify(a.before, null, 1)}\nafter: ${JSON.stringify(a.after, null, 1)}` }));
    return el('tr', { 'data-id': String(a.id) },
      el('td', { class: 'nowrap', text: fmtStamp(a.ts) }), el('td', { class: 'mono', text: a.who || '' }),
      el('td', { text: a.via || '' }), el('td', { class: 'mono', text: a.method || '' }), el('td', {}, change));
  }

  const AUDIT_PAGE = 100;
  let auditRows = [];

  // The audit log with its filters (who, method or area); "Older" pages
  // back from the last id shown (audit.list's before).
  async function audit(more) {
    const sec = $('audit');
    const params = { limit: AUDIT_PAGE };
    if (!more) auditRows = [];
    else if (auditRows.length) params.before = auditRows[auditRows.length - 1].id;
    if ($('au-who') && $('au-who').value.trim()) params.who = $('au-who').value.trim();
    if ($('au-method') && $('au-method').value.trim()) params.method = $('au-method').value.trim();
    let list;
    try {
      list = await miIf('audit.list', params);
    } catch (e) {
      unavailable(sec, 'Audit log', e);
      return;
    }
    auditRows = auditRows.concat(list);
    if (!$('audit-table')) {
      sec.replaceChildren(
        el('div', { class: 'section-head' }, el('h2', { id: 'audit-title', text: 'Audit log' }),
          el('button', { type: 'button', id: 'audit-refresh', class: 'ghost', text: 'Refresh', onclick: () => audit(false) })),
        el('form', { id: 'audit-form', class: 'search', autocomplete: 'off' },
          el('div', { class: 'fields' },
            el('label', {}, 'Who', el('input', { id: 'au-who', placeholder: 'olga, token:ci' })),
            el('label', {}, 'Method or area', el('input', { id: 'au-method', placeholder: 'routes, params.set' }))),
          el('div', { class: 'form-actions' }, el('button', { type: 'submit', id: 'au-search', text: 'Filter' }))),
        el('p', { class: 'muted small', text: 'Every change, newest first, with the configuration before and after.' }),
        el('table', { class: 'grid', id: 'audit-table' },
          el('thead', {}, el('tr', {}, ...['Time', 'Who', 'Via', 'Method', 'Change'].map((h) => el('th', { text: h })))),
          el('tbody', {})),
        el('div', { class: 'form-actions' }, el('button', { type: 'button', id: 'audit-older', class: 'ghost', text: 'Older', onclick: () => audit(true) })));
      $('audit-form').addEventListener('submit', (ev) => { ev.preventDefault(); audit(false); });
    }
    fillBody($('audit-table'), auditRows.map(auditRow), 5, 'no changes recorded');
    $('audit-older').hidden = list.length < AUDIT_PAGE;
  }

  consolePage('diagnose', { enter: diagnose });
  consolePage('audit', { enter: () => audit(false) });
})();
