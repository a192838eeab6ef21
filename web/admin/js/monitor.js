// monitor.js - what the monitoring pages (usage, requests, health, audit,
// tasks) share: the time-range picker, query strings, number and duration
// formats, a paged list driven by the API's next_cursor.
import { h, clear, button, field, uid } from './ui.js';

export const RANGES = [['1h', 3600e3], ['6h', 6 * 3600e3], ['24h', 24 * 3600e3], ['7d', 7 * 24 * 3600e3]];

// A query string from an object: empty values are left out.
export function qs(obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const iso = (ms) => new Date(ms).toISOString();

// datetime-local <-> ms (local time)
function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return d.toISOString().slice(0, 16);
}

// The range picker: 1h / 6h / 24h / 7d buttons and a custom from / to.
// onChange({from, to}) in ms. Returns {el, get()}.
export function rangePicker(onChange, initial = '24h') {
  let chosen = initial;
  let custom = null;
  const fromF = field({ name: 'from', label: 'From', type: 'datetime-local' });
  const toF = field({ name: 'to', label: 'To', type: 'datetime-local' });
  const customBox = h('div', { class: 'filters', hidden: true }, fromF, toF,
    button('Apply', () => {
      const f = Date.parse(fromF.input.value); const t = Date.parse(toF.input.value);
      if (Number.isNaN(f) || Number.isNaN(t) || f >= t) {
        fromF.input.setAttribute('aria-invalid', 'true');
        return;
      }
      fromF.input.removeAttribute('aria-invalid');
      custom = { from: f, to: t };
      onChange(get());
    }, { kind: 'primary' }));
  const btns = [...RANGES.map(([k]) => k), 'custom'].map((k) => {
    const b = button(k === 'custom' ? 'Custom' : k, () => {
      chosen = k;
      for (const x of btns) x.setAttribute('aria-pressed', String(x === b));
      customBox.hidden = k !== 'custom';
      if (k === 'custom') {
        const r = get();
        fromF.input.value = toLocalInput(r.from);
        toF.input.value = toLocalInput(r.to);
        fromF.input.focus();
      } else {
        custom = null;
        onChange(get());
      }
    });
    b.setAttribute('aria-pressed', String(k === chosen));
    return b;
  });
  const label = uid('range');
  const el = h('div', {},
    h('div', { class: 'toolbar' }, h('span', { id: label, class: 'muted' }, 'Time range'),
      h('div', { class: 'range', role: 'group', 'aria-labelledby': label }, btns)),
    customBox);
  function get() {
    if (chosen === 'custom' && custom) return { ...custom, key: 'custom' };
    const len = (RANGES.find(([k]) => k === chosen) || RANGES[2])[1];
    const to = Date.now();
    return { from: to - len, to, key: chosen };
  }
  return { el, get };
}

export function fmtInt(n) {
  if (n === null || n === undefined) return '-';
  return Number(n).toLocaleString('en-US');
}

export function fmtUsd(n) {
  if (n === null || n === undefined) return '-';
  const v = Number(n);
  return `$${v >= 1 ? v.toFixed(2) : v.toFixed(6).replace(/0+$/, '').replace(/\.$/, '.00')}`;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '-';
  const v = Number(ms);
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v >= 10 ? 0 : 2)} ms`;
}

export const fmtUs = (us) => (us === null || us === undefined ? '-' : fmtMs(Number(us) / 1000));

export function statusBadge(status) {
  const s = Number(status);
  const cls = s >= 500 ? 'err' : s >= 400 ? 'warn' : s >= 200 && s < 300 ? 'ok' : 'off';
  return h('span', { class: `badge badge-${cls}` }, String(status));
}

export function totals(items) {
  return h('div', { class: 'totals' }, items.map(([k, v]) =>
    h('div', { class: 'total' }, h('div', { class: 'total-v' }, v), h('div', { class: 'total-k' }, k))));
}

// A cursor-paged list: load(cursor) -> {data, next_cursor}; draw(rows)
// returns the table. Renders into box with First / Next buttons.
export function pager(box, load, draw) {
  const stack = [];
  let cursor = null;
  async function show() {
    const page = await load(cursor);
    const rows = (page && page.data) || [];
    const next = page && page.next_cursor;
    clear(box).append(draw(rows),
      h('div', { class: 'toolbar' },
        button('First page', () => { stack.length = 0; cursor = null; show(); }, { disabled: !cursor }),
        button('Previous page', () => { cursor = stack.pop() || null; show(); }, { disabled: !stack.length && !cursor }),
        button('Next page', () => { stack.push(cursor); cursor = next; show(); }, { disabled: !next }),
        h('span', { class: 'muted' }, `${rows.length} row${rows.length === 1 ? '' : 's'}`)));
  }
  return { show, reset: () => { stack.length = 0; cursor = null; return show(); } };
}
