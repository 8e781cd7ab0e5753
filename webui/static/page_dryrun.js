// The dry run page: routes.test for a typed message and its explanation
// (the decision, the rule, every earlier rule with the first condition that
// failed, the targets with their costs, the rewrites, the result).
// It uses routing.js's loadRules and connectorNames (the datalist of
// connector names for the source field).
'use strict';

const ruleLabel = (r) => `${r.id} ${r.name} (priority ${r.priority})`;

function decisionClass(d) {
  return { route: 'ok', drop: 'warn', reject: 'bad', no_route: 'bad' }[d] || 'idle';
}

function addrText(a) {
  if (!a) return '—';
  const extra = [a.type, a.ton !== undefined ? `TON ${a.ton}` : '', a.npi !== undefined ? `NPI ${a.npi}` : '']
    .filter(Boolean).join(', ');
  return `${a.address}${extra ? ` (${extra})` : ''}`;
}

function failedText(f) {
  if (!f) return 'failed';
  const v = f.value === undefined || f.value === null ? '' : ` on ${typeof f.value === 'object' ? JSON.stringify(f.value) : f.value}`;
  return `${f.field} failed${v}`;
}

function explainRow(label, ...content) {
  return el('div', { class: 'ex-row' }, el('div', { class: 'ex-label', text: label }),
    el('div', { class: 'ex-value' }, ...content));
}

function renderExplain(ex) {
  const box = $('dry-result');
  const rows = [];
  rows.push(explainRow('Decision',
    el('span', { class: `badge ${decisionClass(ex.decision)}`, id: 'dry-decision', text: ex.decision }),
    ' ', el('span', { text: ex.reason || '' })));
  rows.push(explainRow('Matched rule', ex.rule
    ? el('span', { id: 'dry-rule', class: 'mono', text: ruleLabel(ex.rule) })
    : el('span', { id: 'dry-rule', class: 'muted', text: 'none matched' })));
  const considered = ex.considered || [];
  if (considered.length) {
    rows.push(explainRow(ex.rule ? 'Earlier rules' : 'Rules considered',
      el('ul', { id: 'dry-considered', class: 'plain' }, ...considered.map((c) =>
        el('li', { 'data-id': String(c.id) }, el('span', { class: 'mono', text: ruleLabel(c) }), ': ',
          el('span', { class: 'failed', text: failedText(c.failed) }))))));
  }
  const targets = ex.targets || [];
  if (targets.length) {
    rows.push(explainRow(`Targets (${ex.strategy || ''})`,
      el('ol', { id: 'dry-targets' }, ...targets.map((t) => el('li', {},
        el('span', { class: 'mono', text: t.connector }),
        typeof t.cost === 'number' && t.cost >= 0 ? ` ${t.cost} ${t.currency || ''}` : '')))));
  }
  const rewrites = ex.rewrites || [];
  if (rewrites.length) {
    rows.push(explainRow('Rewrites', el('ul', { id: 'dry-rewrites', class: 'plain' },
      ...rewrites.map((w) => el('li', { class: 'mono', text: `${w.field}: ${w.before} → ${w.after}` })))));
  }
  if (ex.sip_status !== undefined) {
    rows.push(explainRow('Answer', el('span', {
      text: `SIP ${ex.sip_status}, SMPP 0x${Number(ex.smpp_status || 0).toString(16)}` })));
  }
  if (ex.result) {
    rows.push(explainRow('Result', el('span', { id: 'dry-res-from', class: 'mono', text: `from ${addrText(ex.result.from)}` }),
      el('br', {}), el('span', { id: 'dry-res-to', class: 'mono', text: `to ${addrText(ex.result.to)}` })));
  }
  const set = ex.set || {};
  const setParts = Object.entries(set.tags || {}).map(([k, v]) => `tag ${k}=${v}`);
  if (set.validity_s !== undefined) setParts.push(`validity ${set.validity_s} s`);
  if (set.receipt !== undefined) setParts.push(`receipt ${set.receipt ? 'requested' : 'not requested'}`);
  if (setParts.length) rows.push(explainRow('Sets', el('span', { text: setParts.join(', ') })));
  if (ex.mirror) rows.push(explainRow('Mirror', el('span', { class: 'mono', text: showText(ex.mirror) })));
  if (ex.rate_limit && ex.rate_limit !== 'none') rows.push(explainRow('Rate limit', el('span', { text: showText(ex.rate_limit) })));
  box.replaceChildren(...rows);
  box.hidden = false;
}

async function dryRun(ev) {
  ev.preventDefault();
  const f = ev.target;
  const params = { to: f.to.value.trim() };
  for (const k of ['from', 'source']) if (f[k].value.trim() !== '') params[k] = f[k].value.trim();
  if (f.body.value !== '') params.body = f.body.value;
  $('dry-submit').disabled = true;
  try {
    renderExplain(await mi('routes.test', params));
    setStatus('dry-status', '', false);
  } catch (e) {
    $('dry-result').hidden = true;
    setStatus('dry-status', errText(e), true);
  } finally {
    $('dry-submit').disabled = false;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('dry-form').dataset.method = 'routes.test';
  $('dry-form').addEventListener('submit', dryRun);
});
consolePage('dryrun', { enter: () => Promise.all([loadRules(), connectorNames()]) });
