// The rate tables page: rates.list, a CSV sheet imported with rates.import
// (typed, pasted or read from a file; every bad line shown with its number
// and nothing imported), rates.export shown and offered as a download,
// rates.delete with a confirmation.
'use strict';

function fmtBytes(n) {
  n = Number(n) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

let downloadUrl = null;

async function exportRates(name) {
  try {
    const r = await mi('rates.export', { table: name });
    $('rates-export-title').textContent = `Table ${r.table}: ${r.rows} row(s)`;
    $('rates-export-text').textContent = r.csv;
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(new Blob([r.csv], { type: 'text/csv' }));
    const a = $('rates-download');
    a.href = downloadUrl;
    a.download = `${r.table}.csv`;
    $('rates-export').hidden = false;
  } catch (e) {
    setStatus('rates-status', errText(e), true);
  }
}

function rateErrorItems(e) {
  if (e instanceof MiError && Array.isArray(e.data) && e.data.length) {
    return e.data.map((d) => (d.line !== undefined
      ? el('li', { class: 'csv-error' }, el('span', { class: 'err-line', text: `line ${d.line}` }), ' ',
        el('span', { class: 'err-path mono', text: d.field || '' }), ': ',
        el('span', { class: 'err-msg', text: d.reason || d.text || '' }))
      : miErrorItems(new MiError('', undefined, [d]))[0]));
  }
  return [];
}

function rateRow(t) {
  const exp = el('button', { type: 'button', class: 'ghost mini export', text: 'Export' });
  exp.addEventListener('click', () => exportRates(t.name));
  const del = confirmButton('Delete', async () => {
    try {
      await mi('rates.delete', { table: t.name });
      setStatus('rates-status', `Table “${t.name}” deleted.`, false);
      showErrors('rates-errors', []);
    } catch (e) {
      setStatus('rates-status', errText(e), true);
      showErrors('rates-errors', rateErrorItems(e));
    }
    await loadRates();
  });
  return el('tr', { 'data-name': t.name },
    el('td', { class: 'mono', text: t.name }),
    el('td', { class: 'num rows', text: String(t.rows) }),
    el('td', { class: 'num', text: fmtBytes(t.memory) }),
    el('td', { class: 'nowrap' }, exp, del));
}

async function loadRates() {
  try {
    const tables = await mi('rates.list');
    fillBody($('rates-table'), tables.map(rateRow), 4, 'no rate tables yet: import a sheet below');
    $('rate-names').replaceChildren(...tables.map((t) => el('option', { value: t.name })));
  } catch (e) {
    banner(`Rate tables: ${errText(e)}`);
  }
}

async function importRates(ev) {
  ev.preventDefault();
  const table = $('ri-table').value.trim();
  const params = { table, csv: $('ri-csv').value, replace: $('ri-replace').checked };
  $('ri-submit').disabled = true;
  try {
    const r = await mi('rates.import', params);
    setStatus('rates-status', `Table “${r.table}”: ${r.rows} row(s) imported.`, false);
    showErrors('rates-errors', []);
  } catch (e) {
    setStatus('rates-status', `Nothing imported: ${e.message}`, true);
    showErrors('rates-errors', rateErrorItems(e));
  } finally {
    $('ri-submit').disabled = false;
  }
  await loadRates();
}

async function readRateFile() {
  const file = $('ri-file').files[0];
  if (!file) return;
  $('ri-csv').value = await file.text();
  if (!$('ri-table').value.trim()) $('ri-table').value = file.name.replace(/\.[^.]*$/, '');
}

document.addEventListener('DOMContentLoaded', () => {
  $('rates-form').dataset.method = 'rates.import';
  $('rates-refresh').addEventListener('click', loadRates);
  $('rates-form').addEventListener('submit', importRates);
  $('ri-file').addEventListener('change', readRateFile);
});
consolePage('rates', { enter: loadRates });
