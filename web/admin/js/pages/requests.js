// pages/requests.js - the request log (usage/requests): filters, cursor
// pages, and one request's detail (usage/requests/{id}): its route, every
// upstream attempt with why the next one came, timings, tokens and cost.
import { h, clear, field, table, button, errorBox, fmtTime } from '../ui.js';
import { rangePicker, qs, iso, fmtInt, fmtUsd, fmtMs, fmtUs, statusBadge, pager } from '../monitor.js';

const STATUS = [['', 'Any'], ['2xx', '2xx'], ['4xx', '4xx'], ['5xx', '5xx'], ['429', '429'], ['499', '499 (client left)']];

export async function render(root, ctx) {
  const { api } = ctx;
  const f = {
    provider: field({ name: 'provider', label: 'Provider' }),
    model: field({ name: 'model', label: 'Model', help: 'upstream name, or provider/name' }),
    api_key_id: field({ name: 'api_key_id', label: 'Key id', type: 'number', min: 1 }),
    team: field({ name: 'team', label: 'Team' }),
    status: field({ name: 'status', label: 'Status', type: 'select', options: STATUS }),
    error_code: field({ name: 'error_code', label: 'Error code' }),
  };
  const picker = rangePicker(() => list.reset().catch(showErr));
  const listBox = h('div');
  const detailBox = h('div', { 'aria-live': 'polite' });
  const err = h('div');
  const form = h('form', { class: 'filters', novalidate: true }, Object.values(f),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Filter'));
  form.addEventListener('submit', (e) => { e.preventDefault(); list.reset().catch(showErr); });
  clear(root).append(h('h1', { id: 'page-title' }, 'Request log'), picker.el, form, err, listBox, detailBox);

  function showErr(e) { if (e.status !== 401) clear(err).append(errorBox(e)); }

  const list = pager(listBox, (cursor) => {
    clear(err);
    const r = picker.get();
    const filters = Object.fromEntries(Object.entries(f).map(([k, w]) => [k, w.input.value.trim()]));
    return api.get(`usage/requests${qs({ from: iso(r.from), to: iso(r.to), limit: 50, cursor, ...filters })}`);
  }, (rows) => table([
    { title: 'Time', render: (x) => fmtTime(x.created_at) },
    { title: 'Request', render: (x) => button(x.request_id, () => showDetail(x), { small: true, title: `Details of ${x.request_id}` }) },
    { title: 'Key', render: (x) => x.key_name || (x.api_key_id ? `key ${x.api_key_id}` : 'admin / JWT') },
    { title: 'Provider / model', render: (x) => (x.provider ? `${x.provider}/${x.model}` : '-') },
    { title: 'Status', render: (x) => h('span', {}, statusBadge(x.status), x.error_code ? ` ${x.error_code}` : '') },
    { title: 'Tokens', render: (x) => `${fmtInt(x.tokens_in)} / ${fmtInt(x.tokens_out)}` },
    { title: 'Cost', render: (x) => fmtUsd(x.cost_usd) },
    { title: 'Latency', render: (x) => fmtMs(x.latency_ms) },
  ], rows, { empty: 'No requests match.', caption: 'Requests, newest first' }));

  async function showDetail(row) {
    clear(detailBox).append(h('p', { class: 'muted' }, 'Loading…'));
    try {
      // the row's own time bounds the look-up (ai_usage is indexed by time)
      const from = Date.parse(row.created_at);
      const d = await api.get(`usage/requests/${encodeURIComponent(row.request_id)}${qs({ from: iso(from), to: iso(from + 1000) })}`);
      clear(detailBox).append(detail(d));
      detailBox.querySelector('h2').focus();
    } catch (e) {
      if (e.status !== 401) clear(detailBox).append(errorBox(e));
    }
  }

  await list.show();
}

function detail(d) {
  const attempts = d.attempts || [];
  const fallback = attempts.filter((a) => a.then === 'fallback').map((a) => `${a.reason} from ${a.provider}`);
  const kv = (pairs) => h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  return h('section', { class: 'panel', 'aria-labelledby': 'req-detail' },
    h('h2', { id: 'req-detail', tabindex: '-1' }, `Request ${d.request_id}`),
    kv([
      ['Time', fmtTime(d.created_at)],
      ['Status', h('span', {}, statusBadge(d.status), d.error_code ? ` ${d.error_code}` : '')],
      ['Error', d.error],
      ['Route', `${d.requested_model || '?'} → ${d.provider ? `${d.provider}/${d.model}` : 'no upstream'}` +
        (d.connection_name ? ` (credential ${d.connection_name})` : '')],
      ['Fallback reason', fallback.join('; ') || 'none'],
      ['Key', d.key_name || (d.api_key_id ? `key ${d.api_key_id}` : 'admin key / JWT')],
      ['Team', d.team],
      ['Feature', d.feature],
      ['Tokens', `${fmtInt(d.tokens_in)} in (${fmtInt(d.tokens_cached)} cached) / ${fmtInt(d.tokens_out)} out`],
      ['Cost', fmtUsd(d.cost_usd)],
      ['Total time', fmtUs(d.total_us)],
      ['Upstream first byte', fmtUs(d.ttfb_us)],
      ['Client first byte', fmtUs(d.ttfc_us)],
      ['llmux overhead', fmtUs(d.overhead_us)],
    ]),
    h('h3', {}, `Attempts (${attempts.length})`),
    table([
      { title: '#', render: (a) => (a.more ? `+${a.more}` : String(a.n)) },
      { title: 'Kind', render: (a) => (a.more ? 'not recorded' : a.fallback ? 'fallback' : a.retry ? 'retry' : 'first') },
      { title: 'Provider', render: (a) => a.provider },
      { title: 'Credential', render: (a) => (a.connection_id ? String(a.connection_id) : '-') },
      { title: 'Upstream model', render: (a) => a.model },
      { title: 'Status', render: (a) => (a.status ? statusBadge(a.status) : a.transport || '-') },
      { title: 'Verdict', render: (a) => a.verdict },
      { title: 'Then', render: (a) => (a.then && a.then !== 'end' ? `${a.then}: ${a.reason || ''}` : '') },
      { title: 'First byte', render: (a) => fmtUs(a.ttfb_us) },
      { title: 'Duration', render: (a) => fmtUs(a.duration_us) },
    ], attempts, { empty: 'No upstream attempt (refused by llmux before any).', caption: 'Upstream attempts in order' }));
}
