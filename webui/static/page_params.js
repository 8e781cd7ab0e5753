// The parameters page: params.list as a table, filtered by a search box;
// a runtime parameter has an input and a Save button (params.set), whose
// refusal (a bad value, out of limits) is shown beside it; the others say
// they need a restart.  params.diff marks what differs from the default.
'use strict';

(() => {
  let built = false;
  let all = [];
  let diff = new Map();

  function build() {
    if (built) return;
    built = true;
    $('params').append(
      el('div', { class: 'section-head' }, el('h2', { id: 'params-title', text: 'Parameters' }),
        el('label', { class: 'inline' }, 'Filter ', el('input', { id: 'pm-filter', type: 'search', placeholder: 'sip., log.level…' }))),
      el('p', { class: 'muted small', text: 'Runtime parameters change at once and are kept in the database; the others need a restart. Bold: differs from the default.' }),
      el('table', { class: 'grid', id: 'params-table' },
        el('thead', {}, el('tr', {}, ...['Name', 'Value', 'Applies', 'Help'].map((h) => el('th', { text: h })))),
        el('tbody', {}, el('tr', { class: 'empty' }, el('td', { colspan: '4', text: 'loading…' })))));
    $('pm-filter').addEventListener('input', render);
  }

  async function save(p, input, status, btn) {
    btn.disabled = true;
    try {
      const r = await mi('params.set', { name: p.name, value: input.value });
      p.value = r.value;
      input.value = r.value;
      setStatus(status, 'saved', false);
      await load();
    } catch (e) {
      setStatus(status, errText(e), true);
      input.focus();
    } finally {
      btn.disabled = !can('params.set');
    }
  }

  function row(p) {
    const changed = diff.has(p.name);
    const name = el('td', { class: `mono${changed ? ' changed' : ''}`, text: p.name,
      title: changed ? `default ${diff.get(p.name).default}` : undefined });
    let value;
    if (p.runtime) {
      const input = el('input', { class: 'pm-value mono', value: p.value, 'aria-label': `value of ${p.name}` });
      const status = el('span', { class: 'form-status', role: 'status' });
      const btn = guard(el('button', { type: 'button', class: 'mini', text: 'Save' }), 'params.set');
      guard(input, 'params.set');
      btn.addEventListener('click', () => save(p, input, status, btn));
      input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') save(p, input, status, btn); });
      value = el('td', {}, el('span', { class: 'pm-edit' }, input, btn), status);
    } else {
      value = el('td', { class: 'mono', text: p.value });
    }
    return el('tr', { 'data-name': p.name }, name, value,
      el('td', { text: p.runtime ? 'runtime' : 'restart' }), el('td', { class: 'small', text: p.help || '' }));
  }

  function render() {
    const q = $('pm-filter').value.trim().toLowerCase();
    const shown = all.filter((p) => !q || p.name.toLowerCase().includes(q) || (p.help || '').toLowerCase().includes(q));
    fillBody($('params-table'), shown.map(row), 4, 'no parameter matches');
  }

  async function load() {
    const [list, d] = await miBatch([['params.list'], ['params.diff']]);
    if (list.error) { banner(`Parameters: ${list.error.describe()}`); return; }
    all = list.result;
    diff = new Map((d.result || []).map((x) => [x.name, x]));
    render();
  }

  consolePage('params', { enter: async () => { build(); await load(); } });
})();
