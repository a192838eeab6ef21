// pages/usage.js - the usage dashboard: requests, errors, tokens, cost and
// latency percentiles (p50 / p90 / p99 of the whole request and of the
// upstream's first byte) over a time range, per provider, model, key or
// team, from usage/timeseries and usage/summary.
import { h, clear, field, table, errorBox } from '../ui.js';
import { lineChart, buckets } from '../chart.js';
import { rangePicker, qs, iso, fmtInt, fmtUsd, fmtMs, totals } from '../monitor.js';

const MIN = 60e3;
const GROUPS = [['', 'Everything'], ['provider', 'Provider'], ['model', 'Model'], ['key', 'Key'], ['team', 'Team']];
const TOP = 5; // series per grouped chart; the rest add up in "other"

function bucketOf(r) {
  const span = r.to - r.from;
  if (span <= 2 * 24 * 3600e3) return ['minute', MIN];
  if (span <= 60 * 24 * 3600e3) return ['hour', 60 * MIN];
  return ['day', 24 * 60 * MIN];
}

function groupName(row, by) {
  if (by === 'provider') return row.provider || '(none)';
  if (by === 'model') return `${row.provider || ''}/${row.model || ''}`;
  if (by === 'key') return row.key_name || (row.api_key_id ? `key ${row.api_key_id}` : 'admin key / JWT');
  if (by === 'team') return row.team || (row.team_id ? `team ${row.team_id}` : '(no team)');
  return 'all';
}

export async function render(root, ctx) {
  const { api } = ctx;
  const status = h('div', { role: 'status', class: 'muted' });
  const body = h('div');
  const groupF = field({ name: 'group_by', label: 'Split by', type: 'select', options: GROUPS });
  const picker = rangePicker(() => load());
  groupF.input.addEventListener('change', () => load());
  clear(root).append(h('h1', { id: 'page-title' }, 'Usage'),
    h('div', { class: 'filters' }, picker.el, groupF), status, body);

  const charts = {
    requests: lineChart({ title: 'Requests', unit: 'req', area: true }),
    errors: lineChart({ title: 'Errors', unit: 'req', area: true }),
    tokens: lineChart({ title: 'Tokens (in + out)', unit: 'tokens', area: true }),
    cost: lineChart({ title: 'Cost', unit: 'usd', area: true }),
    latency: lineChart({ title: 'Latency (whole request)', unit: 'ms', sum: false }),
    ttfb: lineChart({ title: 'Upstream time to first byte', unit: 'ms', sum: false }),
  };
  const totalsBox = h('div');
  const byBox = h('div');
  body.append(totalsBox, h('div', { class: 'charts' }, Object.values(charts).map((c) => c.el)), byBox);

  let seq = 0;
  async function load() {
    const mine = ++seq;
    const r = picker.get();
    const by = groupF.input.value;
    const [bucket, step] = bucketOf(r);
    const base = { from: iso(r.from), to: iso(r.to) };
    status.textContent = 'Loading…';
    try {
      const [series, grouped, summary] = await Promise.all([
        api.get(`usage/timeseries${qs({ ...base, bucket })}`),
        by ? api.get(`usage/timeseries${qs({ ...base, bucket, group_by: by })}`) : null,
        api.get(`usage/summary${qs({ ...base, group_by: by || 'provider' })}`),
      ]);
      if (mine !== seq) return;
      const times = buckets(r.from, r.to, step);
      const index = new Map(times.map((t, i) => [t, i]));
      const at = (row) => index.get(Date.parse(row.bucket));
      const column = (rows, get, empty) => {
        const v = new Array(times.length).fill(empty);
        for (const row of rows) {
          const i = at(row);
          if (i !== undefined) v[i] = get(row);
        }
        return v;
      };
      const rows = series.data || [];
      const num = (k) => (row) => (row[k] === null || row[k] === undefined ? null : Number(row[k]));
      // counts: one series per group (the top ones) or the total
      const countSeries = (get) => {
        if (!grouped) return [{ name: 'all', values: column(rows, get, 0) }];
        const sums = new Map();
        for (const row of grouped.data || []) {
          const n = groupName(row, by);
          sums.set(n, (sums.get(n) || 0) + (get(row) || 0));
        }
        const top = [...sums.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([n]) => n);
        const out = top.map((n) => ({ name: n, values: new Array(times.length).fill(0) }));
        const other = { name: 'other', values: new Array(times.length).fill(0) };
        for (const row of grouped.data || []) {
          const i = at(row);
          if (i === undefined) continue;
          const k = top.indexOf(groupName(row, by));
          (k >= 0 ? out[k] : other).values[i] += get(row) || 0;
        }
        if (sums.size > TOP) out.push(other);
        return out;
      };
      charts.requests.update({ times, series: countSeries(num('requests')) });
      charts.errors.update({ times, series: countSeries(num('errors')) });
      charts.tokens.update({ times, series: countSeries((x) => Number(x.tokens_in || 0) + Number(x.tokens_out || 0)) });
      charts.cost.update({ times, series: countSeries(num('cost_usd')) });
      charts.latency.update({ times, series: ['p50', 'p90', 'p99'].map((p) => ({ name: p, values: column(rows, num(`${p}_latency_ms`), null) })) });
      charts.ttfb.update({ times, series: ['p50', 'p90', 'p99'].map((p) => ({ name: p, values: column(rows, num(`${p}_ttfb_ms`), null) })) });
      const t = summary.totals || {};
      clear(totalsBox).append(totals([
        ['Requests', fmtInt(t.requests)], ['Errors', fmtInt(t.errors)],
        ['Tokens in', fmtInt(t.tokens_in)], ['Tokens out', fmtInt(t.tokens_out)],
        ['Cost', fmtUsd(t.cost_usd)], ['p50 latency', fmtMs(t.p50_latency_ms)],
        ['p99 latency', fmtMs(t.p99_latency_ms)], ['p50 first byte', fmtMs(t.p50_ttfb_ms)],
      ]));
      const shownBy = by || 'provider';
      clear(byBox).append(h('h2', {}, `By ${GROUPS.find(([k]) => k === shownBy)[1].toLowerCase()}`),
        table([
          { title: GROUPS.find(([k]) => k === shownBy)[1], render: (x) => groupName(x, shownBy) },
          { title: 'Requests', render: (x) => fmtInt(x.requests) },
          { title: 'Errors', render: (x) => fmtInt(x.errors) },
          { title: 'Tokens in', render: (x) => fmtInt(x.tokens_in) },
          { title: 'Tokens out', render: (x) => fmtInt(x.tokens_out) },
          { title: 'Cost', render: (x) => fmtUsd(x.cost_usd) },
          { title: 'p50', render: (x) => fmtMs(x.p50_latency_ms) },
          { title: 'p90', render: (x) => fmtMs(x.p90_latency_ms) },
          { title: 'p99', render: (x) => fmtMs(x.p99_latency_ms) },
        ], summary.data || [], { empty: 'No requests in this range.', caption: 'Usage by group' }));
      status.textContent = `${times.length} ${bucket} buckets, drawn in ${Math.max(...Object.values(charts).map((c) => c.lastDrawMs)).toFixed(1)} ms per chart`;
    } catch (e) {
      if (mine !== seq || e.status === 401) return;
      status.textContent = '';
      clear(totalsBox).append(errorBox(e));
    }
  }
  await load();
}
