// The dashboard page: version, uptime, connectors up, rules, four live
// charts and the counters.  Every 1.5 s one MI batch (stats.get,
// queues.list, connectors.list, system.uptime) gives the sample; rates are
// the difference of two counters over the time between the samples.
//
// The charts are drawn on a <canvas> by drawChart below (no library): one
// line per series over the last CHART_POINTS samples, a y axis from 0 to a
// rounded maximum, and a legend (HTML, so it reads as text) with each
// series' latest value.
'use strict';

(() => {
  const POLL_MS = 1500;
  const CHART_POINTS = 60;
  const COUNTERS_SHOWN = 12;
  const COLORS = ['#1f6feb', '#1a7f37', '#c62828', '#9a6700', '#8250df', '#0a7ea4', '#bf3989', '#57606a'];

  let showAll = false;
  let lastCounters = {};
  let prev = null;          // the previous sample: {t, counters, conns}
  const charts = {};        // id -> {series: Map(name -> [values]), canvas, legend, unit}

  const CHARTS = [
    ['tput-in', 'Throughput in', 'msg/s'],
    ['tput-out', 'Throughput out', 'msg/s'],
    ['queues', 'Queue depth', 'messages'],
    ['latency', 'Store commit latency', 'ms'],
    ['errors', 'Errors', 'per s'],
  ];

  function buildCharts() {
    const box = $('charts');
    if (box.childElementCount) return;
    for (const [id, title, unit] of CHARTS) {
      const canvas = el('canvas', { id: `chart-${id}`, width: '560', height: '180', role: 'img', 'aria-label': title });
      const legend = el('ul', { class: 'legend', id: `legend-${id}` });
      box.append(el('figure', { class: 'chart', 'data-chart': id },
        el('figcaption', {}, el('b', { text: title }), el('span', { class: 'muted small', text: ` ${unit}` })),
        canvas, legend));
      charts[id] = { series: new Map(), canvas, legend, unit, title };
    }
  }

  // Add one value per named series; a series missing from values gets 0
  // while it still has history, so lines stay aligned.
  function push(id, values) {
    const c = charts[id];
    for (const [name, v] of Object.entries(values)) {
      if (!c.series.has(name)) c.series.set(name, new Array(CHART_POINTS).fill(null));
    }
    for (const [name, pts] of c.series) {
      pts.push(values[name] !== undefined ? values[name] : null);
      while (pts.length > CHART_POINTS) pts.shift();
      if (pts.every((x) => x === null)) c.series.delete(name);
    }
    drawChart(c);
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  const fmtNum = (v) => (Number.isInteger(v) ? v.toLocaleString() : v >= 100 ? Math.round(v).toLocaleString() : v >= 10 ? v.toFixed(1) : v.toFixed(2));

  function drawChart(c) {
    const cv = c.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = cv.clientWidth || 560, h = cv.clientHeight || 180;
    if (cv.width !== Math.round(w * ratio)) { cv.width = Math.round(w * ratio); cv.height = Math.round(h * ratio); }
    const g = cv.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 44, right = 8, top = 8, bottom = 18;
    const pw = w - left - right, ph = h - top - bottom;
    let max = 0;
    for (const pts of c.series.values()) for (const v of pts) if (v !== null && v > max) max = v;
    max = niceMax(max);
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#6b7585';
    g.strokeStyle = '#dfe4ec';
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let k = 0; k <= 4; k++) {
      const y = top + ph - (ph * k) / 4;
      g.beginPath(); g.moveTo(left, y + 0.5); g.lineTo(left + pw, y + 0.5); g.stroke();
      g.fillText(fmtNum((max * k) / 4), left - 6, y);
    }
    g.textAlign = 'left';
    g.textBaseline = 'alphabetic';
    g.fillText(`−${Math.round((CHART_POINTS * POLL_MS) / 1000)} s`, left, h - 4);
    g.textAlign = 'right';
    g.fillText('now', left + pw, h - 4);
    const legend = [];
    let i = 0;
    for (const [name, pts] of c.series) {
      const color = COLORS[i++ % COLORS.length];
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      let pen = false;
      pts.forEach((v, k) => {
        if (v === null) { pen = false; return; }
        const x = left + (pw * k) / (CHART_POINTS - 1), y = top + ph - (ph * v) / max;
        if (pen) g.lineTo(x, y); else g.moveTo(x, y);
        pen = true;
      });
      g.stroke();
      const last = pts[pts.length - 1];
      const sw = el('span', { class: 'swatch' });
      sw.style.background = color;
      legend.push(el('li', { 'data-series': name }, sw, el('span', { class: 'mono', text: name }),
        el('b', { class: 'value', text: last === null ? '—' : fmtNum(last) })));
    }
    if (!legend.length) legend.push(el('li', { class: 'muted', text: 'no data yet' }));
    c.legend.replaceChildren(...legend);
    cv.setAttribute('aria-label', `${c.title} (${c.unit}): ${c.series.size ? [...c.series]
      .map(([n, p]) => `${n} ${p[p.length - 1] === null ? 'none' : fmtNum(p[p.length - 1])}`).join(', ') : 'no data'}`);
  }

  // A connector's messages in and out so far, from its adapter's status.
  function connCounts(c) {
    const st = c.status || {};
    const binds = Array.isArray(st.binds) ? st.binds : [];
    const sum = (k) => binds.reduce((a, b) => a + (Number(b[k]) || 0), 0);
    const out = st.sent !== undefined ? Number(st.sent) : binds.length ? sum('submitted')
      : Number(st.submitted || st.published || 0);
    const inn = st.received !== undefined ? Number(st.received) : binds.length ? sum('received') : 0;
    return { in: inn, out };
  }

  const rate = (now, before, dt) => Math.max(0, (now - before) / dt);

  function sample(counters, conns, queues) {
    const t = performance.now();
    const cur = { t, counters, conns: new Map(conns.map((c) => [c.name, connCounts(c)])) };
    const q = {};
    for (const x of queues) q[x.name] = Number(x.backlog) || 0;
    push('queues', q);
    const lat = { 'commit (last)': (Number(counters['db.commit_us_last']) || 0) / 1000 };
    if (counters['db.commit_us_1s'] !== undefined) lat['slowest in its second'] = Number(counters['db.commit_us_1s']) / 1000;
    push('latency', lat);
    if (prev) {
      const dt = (t - prev.t) / 1000;
      const tin = {}, tout = {};
      tin['all (accepted)'] = rate(counters['core.accepted'] || 0, prev.counters['core.accepted'] || 0, dt);
      if (counters['sip.rx_message'] !== undefined) tin['sip listener'] = rate(counters['sip.rx_message'], prev.counters['sip.rx_message'] || 0, dt);
      for (const [name, n] of cur.conns) {
        const p = prev.conns.get(name);
        if (!p) continue;
        if (n.in || p.in) tin[name] = rate(n.in, p.in, dt);
        tout[name] = rate(n.out, p.out, dt);
      }
      push('tput-in', tin);
      push('tput-out', tout);
      const errs = {};
      for (const k of ['core.failed', 'core.rejected', 'core.no_route', 'core.expired', 'db.errors']) {
        if (counters[k] !== undefined) errs[k] = rate(counters[k], prev.counters[k] || 0, dt);
      }
      push('errors', errs);
    }
    prev = cur;
  }

  function renderCounters(counters) {
    lastCounters = counters || {};
    const names = Object.keys(lastCounters).sort();
    const shown = showAll ? names : names.slice(0, COUNTERS_SHOWN);
    $('counters').replaceChildren(...(shown.length ? shown.map((n) => el('div', { class: 'counter' },
      el('span', { class: 'counter-name', text: n }),
      el('span', { class: 'counter-value', text: Number(lastCounters[n]).toLocaleString() })))
      : [el('span', { class: 'muted', text: 'no counters yet' })]));
    const more = $('counters-more');
    more.hidden = names.length <= COUNTERS_SHOWN;
    more.textContent = showAll ? 'show fewer' : `show all ${names.length}`;
  }

  const upState = (s) => ['up', 'bound', 'connected', 'open', 'ready', 'running', 'listening'].includes(String(s || '').toLowerCase());

  // routes.list can be large (thousands of rules): read for its count only
  // every RULES_EVERY polls.
  const RULES_EVERY = 20;
  let polls = 0;

  async function refresh() {
    let replies;
    const calls = [['stats.get'], ['queues.list'], ['connectors.list'], ['system.uptime']];
    if (polls++ % RULES_EVERY === 0) calls.push(['routes.list']);
    try {
      replies = await miBatch(calls);
    } catch (e) {
      setLink(false, 'disconnected');
      banner(errText(e));
      return;
    }
    const [stats, queues, conns, up, routes] = replies;
    const errors = replies.filter((r) => r.error).map((r) => r.error.describe());
    setLink(true, 'connected');
    banner(errors.join(' — '));
    if (stats.result) renderCounters(stats.result.counters);
    if (up.result) {
      $('dash-uptime').textContent = fmtDuration(up.result.uptime_s);
      $('dash-started').textContent = up.result.started_at ? `since ${fmtStamp(up.result.started_at)}` : '';
    }
    if (conns.result) {
      $('dash-conn-up').textContent = String(conns.result.filter((c) => c.status && upState(c.status.state)).length);
      $('dash-conn-total').textContent = `of ${conns.result.length} configured`;
    }
    if (routes && routes.result) $('dash-routes').textContent = String(routes.result.length);
    if (stats.result && conns.result) sample(stats.result.counters || {}, conns.result, queues.result || []);
  }

  async function enter() {
    buildCharts();
    try {
      const v = await mi('system.version');
      $('dash-version').textContent = v.version;
      const libs = v.libraries ? Object.entries(v.libraries).map(([k, x]) => `${k} ${x}`).join(', ') : '';
      $('dash-build').textContent = [v.build, libs].filter(Boolean).join(' · ');
      $('dash-build').title = libs;
    } catch (e) {
      banner(errText(e));
    }
    prev = null; // a gap while the page was away is no rate
    polls = 0;
    await every(POLL_MS, refresh);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('counters-more').addEventListener('click', () => { showAll = !showAll; renderCounters(lastCounters); });
  });
  consolePage('dashboard', { enter });
})();
