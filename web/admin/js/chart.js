// chart.js - a small canvas line/area chart, no library: several series
// over a time axis (ticks at round times), a y axis with units, a legend, a
// hover (and keyboard) tooltip. A day of per-minute points (1,440) x 5
// series is one path per series: a redraw takes a few milliseconds.
//
// Accessibility: the canvas is an image with an aria-label summary (range,
// and each series' min / max / total); a visually hidden table repeats that
// summary for screen readers; the chart takes focus (Tab), and the Left /
// Right / Home / End keys move a cursor whose values are announced.
//
// lineChart(opts) -> {el, update(data), lastDrawMs}
//   opts: {title, unit ('ms', 'req', 'tokens', 'usd', ...), area (bool),
//          height (px), fmt(value) -> text (default: by unit)}
//   data: {times: [ms...], series: [{name, values: [number|null...]}]}
//   (values[i] belongs to times[i]; null is a gap.)
import { h, clear } from './ui.js';

// Colour-blind friendly (Okabe-Ito), each at least 3:1 on white.
const COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#b8860b', '#56b4e9', '#000000'];
const MIN = 60e3;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const STEPS = [MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

export function colorOf(i) { return COLORS[i % COLORS.length]; }

export function formatValue(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  const abs = Math.abs(v);
  if (v === 0) return unit === 'usd' ? '$0' : unit && unit !== 'req' ? `0 ${unit}` : '0';
  if (unit === 'usd') return `$${abs >= 100 ? v.toFixed(0) : abs >= 1 ? v.toFixed(2) : v.toPrecision(2)}`;
  if (unit === 'ms') {
    if (abs >= 1000) return `${(v / 1000).toFixed(abs >= 10000 ? 0 : 1)} s`;
    return `${abs >= 10 ? v.toFixed(0) : abs >= 1 ? v.toFixed(1) : v.toPrecision(2)} ms`;
  }
  const s = abs >= 1e9 ? `${(v / 1e9).toFixed(1)}G` : abs >= 1e6 ? `${(v / 1e6).toFixed(1)}M`
    : abs >= 1e4 ? `${(v / 1e3).toFixed(0)}k` : abs >= 1e3 ? `${(v / 1e3).toFixed(1)}k`
      : Number.isInteger(v) ? String(v) : v.toFixed(2);
  return unit && unit !== 'req' ? `${s} ${unit}` : s;
}

// 1, 2 or 5 x 10^k: a step that gives about n ticks up to max.
function niceStep(max, n) {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

const pad2 = (n) => String(n).padStart(2, '0');
function timeLabel(t, step) {
  const d = new Date(t);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (step >= DAY) return `${d.getMonth() + 1}/${d.getDate()}`;
  if (d.getHours() === 0 && d.getMinutes() === 0) return `${d.getMonth() + 1}/${d.getDate()}`;
  return hm;
}
function fullTime(t) {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

export function lineChart(opts) {
  const unit = opts.unit || '';
  const fmt = opts.fmt || ((v) => formatValue(v, unit));
  const height = opts.height || 220;
  const canvas = h('canvas', { class: 'chart-canvas', role: 'img', tabindex: '0' });
  const tip = h('div', { class: 'chart-tip', hidden: true });
  const legend = h('ul', { class: 'chart-legend', 'aria-hidden': 'true' });
  const live = h('div', { class: 'sr-only', 'aria-live': 'polite' });
  const srTable = h('div', { class: 'sr-only' });
  const box = h('div', { class: 'chart-box' }, canvas, tip);
  const el = h('figure', { class: 'chart' },
    h('figcaption', { class: 'chart-title' }, opts.title || ''), legend, box, srTable, live);
  let data = { times: [], series: [] };
  let geo = null; // the layout of the last draw
  let cursor = -1; // the index under the mouse or the keyboard
  const api = { el, lastDrawMs: 0, update, redraw: draw };

  function summary() {
    const { times, series } = data;
    if (!times.length) return `${opts.title || 'Chart'}: no data in this range.`;
    const parts = series.map((s) => {
      const v = s.values.filter((x) => x !== null && x !== undefined);
      if (!v.length) return `${s.name}: no data`;
      const total = v.reduce((a, b) => a + b, 0);
      return `${s.name}: min ${fmt(Math.min(...v))}, max ${fmt(Math.max(...v))}` +
        (opts.sum === false ? '' : `, total ${fmt(total)}`);
    });
    return `${opts.title || 'Chart'} from ${fullTime(times[0])} to ${fullTime(times[times.length - 1])}, ` +
      `${times.length} points. ${parts.join('; ')}.`;
  }

  function update(d) {
    data = d || { times: [], series: [] };
    cursor = -1;
    tip.hidden = true;
    clear(legend).append(...data.series.map((s, i) => h('li', {},
      h('span', { class: `chart-swatch chart-c${i % COLORS.length}` }), s.name)));
    const text = summary();
    canvas.setAttribute('aria-label', text);
    clear(srTable).append(h('table', {},
      h('caption', {}, opts.title || 'Chart'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Series'), h('th', { scope: 'col' }, 'Summary'))),
      h('tbody', {}, data.series.map((s) => h('tr', {}, h('th', { scope: 'row' }, s.name),
        h('td', {}, text.split('; ').find((p) => p.includes(`${s.name}:`)) || ''))))));
    draw();
  }

  function draw() {
    const t0 = performance.now();
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(box.clientWidth || 600, 200);
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, height);
    g.font = '12px system-ui, sans-serif';
    const { times, series } = data;
    const left = 64; const right = 12; const top = 10; const bottom = 26;
    const pw = width - left - right; const ph = height - top - bottom;
    if (!times.length) {
      g.fillStyle = '#4a5360';
      g.fillText('No data in this range', left + 8, top + ph / 2);
      geo = null;
      api.lastDrawMs = performance.now() - t0;
      return;
    }
    let ymax = 0;
    for (const s of series) for (const v of s.values) if (v !== null && v > ymax) ymax = v;
    if (ymax <= 0) ymax = 1;
    // counts step by whole numbers
    const ystep = unit === 'req' || unit === 'tokens' ? Math.max(1, niceStep(ymax, 4)) : niceStep(ymax, 4);
    ymax = Math.ceil(ymax / ystep) * ystep;
    const t0x = times[0]; const t1x = times[times.length - 1] === t0x ? t0x + MIN : times[times.length - 1];
    const X = (t) => left + ((t - t0x) / (t1x - t0x)) * pw;
    const Y = (v) => top + ph - (v / ymax) * ph;
    // grid and y labels
    g.strokeStyle = '#e3e7ec'; g.fillStyle = '#4a5360'; g.lineWidth = 1;
    g.textAlign = 'right'; g.textBaseline = 'middle';
    for (let v = 0; v <= ymax + ystep / 2; v += ystep) {
      const y = Math.round(Y(v)) + 0.5;
      g.beginPath(); g.moveTo(left, y); g.lineTo(left + pw, y); g.stroke();
      g.fillText(fmt(v), left - 6, y);
    }
    // x ticks at round times
    const span = t1x - t0x;
    const step = STEPS.find((s) => span / s <= 8) || STEPS[STEPS.length - 1];
    const offset = new Date(t0x).getTimezoneOffset() * MIN; // local round times
    g.textAlign = 'center'; g.textBaseline = 'top';
    for (let t = Math.ceil((t0x - offset) / step) * step + offset; t <= t1x; t += step) {
      const x = Math.round(X(t)) + 0.5;
      g.beginPath(); g.moveTo(x, top + ph); g.lineTo(x, top + ph + 4); g.stroke();
      g.fillText(timeLabel(t, step), x, top + ph + 7);
    }
    g.strokeStyle = '#8a94a3';
    g.beginPath(); g.moveTo(left, top + ph + 0.5); g.lineTo(left + pw, top + ph + 0.5); g.stroke();
    // series: one path each (gaps break the line)
    series.forEach((s, si) => {
      const color = COLORS[si % COLORS.length];
      const vals = s.values;
      g.strokeStyle = color; g.lineWidth = 1.5;
      g.beginPath();
      let pen = false;
      for (let i = 0; i < times.length; i++) {
        const v = vals[i];
        if (v === null || v === undefined) { pen = false; continue; }
        const x = X(times[i]); const y = Y(v);
        if (pen) g.lineTo(x, y); else { g.moveTo(x, y); pen = true; }
      }
      g.stroke();
      // a point with no neighbour draws no segment: a dot instead
      g.fillStyle = color;
      for (let i = 0; i < times.length; i++) {
        const v = vals[i];
        if (v === null || v === undefined) continue;
        const lone = (i === 0 || vals[i - 1] === null || vals[i - 1] === undefined) &&
          (i === times.length - 1 || vals[i + 1] === null || vals[i + 1] === undefined);
        if (lone) { g.beginPath(); g.arc(X(times[i]), Y(v), 2.5, 0, 2 * Math.PI); g.fill(); }
      }
      if (opts.area) {
        g.globalAlpha = 0.12; g.fillStyle = color;
        g.beginPath();
        let open = false; let firstX = 0; let lastX = 0;
        for (let i = 0; i <= times.length; i++) {
          const v = i < times.length ? vals[i] : null;
          if (v === null || v === undefined) {
            if (open) { g.lineTo(lastX, Y(0)); g.lineTo(firstX, Y(0)); g.closePath(); open = false; }
            continue;
          }
          const x = X(times[i]);
          if (!open) { g.moveTo(x, Y(0)); firstX = x; open = true; }
          g.lineTo(x, Y(v)); lastX = x;
        }
        g.fill();
        g.globalAlpha = 1;
      }
    });
    geo = { X, Y, left, pw, top, ph };
    if (cursor >= 0) drawCursor(g);
    api.lastDrawMs = performance.now() - t0;
  }

  function drawCursor(g) {
    const x = Math.round(geo.X(data.times[cursor])) + 0.5;
    g.strokeStyle = '#1b1f24'; g.lineWidth = 1;
    g.beginPath(); g.moveTo(x, geo.top); g.lineTo(x, geo.top + geo.ph); g.stroke();
  }

  function show(i) {
    if (!geo || i < 0 || i >= data.times.length) return;
    cursor = i;
    draw();
    const lines = data.series.map((s, si) => h('div', {},
      h('span', { class: `chart-swatch chart-c${si % COLORS.length}` }), `${s.name}: ${fmt(s.values[i])}`));
    clear(tip).append(h('div', { class: 'chart-tip-time' }, fullTime(data.times[i])), ...lines);
    tip.hidden = false;
    const x = geo.X(data.times[i]);
    const w = tip.offsetWidth || 160;
    tip.style.left = `${Math.min(Math.max(x + 10, 0), (box.clientWidth || 600) - w - 4)}px`;
    tip.style.top = `${geo.top}px`;
    live.textContent = `${fullTime(data.times[i])}: ${data.series.map((s) => `${s.name} ${fmt(s.values[i])}`).join(', ')}`;
  }

  // the index nearest to x (times are sorted)
  function nearest(x) {
    const { times } = data;
    let lo = 0; let hi = times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (geo.X(times[mid]) < x) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(geo.X(times[lo - 1]) - x) < Math.abs(geo.X(times[lo]) - x)) lo--;
    return lo;
  }

  canvas.addEventListener('mousemove', (e) => {
    if (!geo || !data.times.length) return;
    const r = canvas.getBoundingClientRect();
    show(nearest(e.clientX - r.left));
  });
  canvas.addEventListener('mouseleave', () => { cursor = -1; tip.hidden = true; draw(); });
  canvas.addEventListener('keydown', (e) => {
    const n = data.times.length;
    if (!n) return;
    const big = Math.max(1, Math.round(n / 24));
    const next = { ArrowRight: cursor + 1, ArrowLeft: cursor - 1, PageUp: cursor + big, PageDown: cursor - big,
      Home: 0, End: n - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    show(Math.min(Math.max(cursor < 0 && e.key === 'ArrowLeft' ? n - 1 : next, 0), n - 1));
  });
  canvas.addEventListener('blur', () => { cursor = -1; tip.hidden = true; draw(); });
  let resizeTimer = null;
  const ro = new ResizeObserver(() => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (el.isConnected) draw(); }, 50);
  });
  ro.observe(box);
  return api;
}

// Fills a time series onto every bucket of [from, to): rows [{bucket, ...}]
// keyed by their bucket's start; missing buckets get `empty` (0 for counts,
// null for latencies: a gap).
export function buckets(fromMs, toMs, stepMs) {
  const out = [];
  for (let t = Math.floor(fromMs / stepMs) * stepMs; t < toMs; t += stepMs) out.push(t);
  return out;
}
