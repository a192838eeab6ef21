// pages/health.js - each deployment (provider x credential x upstream
// model) as routing sees it now (GET health): its state, breakers,
// cooling, attempts in flight, time-to-first-byte EWMA and newest error.
// Refresh by hand or every 5 seconds.
import { h, clear, table, button, errorBox, fmtTime, uid } from '../ui.js';
import { fmtInt, fmtMs } from '../monitor.js';

const STATE = { ok: 'ok', cooling: 'warn', half_open: 'warn', open: 'err', disabled: 'off' };

function stateBadge(s) {
  return h('span', { class: `badge badge-${STATE[s] || 'off'}` }, s.replace('_', '-'));
}

export async function render(root, ctx) {
  const { api } = ctx;
  const box = h('div');
  const stamp = h('span', { class: 'muted', role: 'status' });
  const autoId = uid('auto');
  const auto = h('input', { type: 'checkbox', id: autoId });
  let timer = null;
  auto.addEventListener('change', () => {
    clearInterval(timer);
    timer = auto.checked ? setInterval(() => { if (root.isConnected) load(); else clearInterval(timer); }, 5000) : null;
  });
  clear(root).append(h('h1', { id: 'page-title' }, 'Health'),
    h('div', { class: 'toolbar' }, button('Refresh', () => load(), { kind: 'primary' }),
      h('span', { class: 'field-check' }, auto, h('label', { for: autoId }, 'Every 5 s')), stamp),
    box);

  async function load() {
    try {
      const r = await api.get('health');
      const rows = r.data || [];
      const bad = rows.filter((x) => x.state !== 'ok' && x.state !== 'disabled').length;
      stamp.textContent = `${rows.length} deployments, ${bad} not ok, as of ${fmtTime(r.at)}`;
      clear(box).append(table([
        { title: 'State', render: (x) => stateBadge(x.state) },
        { title: 'Provider', render: (x) => x.provider },
        { title: 'Credential', render: (x) => `${x.connection} (${x.connection_id})` },
        { title: 'Upstream model', render: (x) => x.model || '(any)' },
        { title: 'Breaker', render: (x) => `${x.breaker} / credential ${x.credential.breaker}` },
        { title: 'Cooling until', render: (x) => (x.cooling_until ? fmtTime(x.cooling_until) : '-') },
        { title: 'In flight', render: (x) => fmtInt(x.in_flight) },
        { title: 'First byte (EWMA)', render: (x) => fmtMs(x.ttfb_ewma_ms) },
        { title: 'OK / errors', render: (x) => `${fmtInt(x.credential.success_total)} / ${fmtInt(x.credential.error_total)}` },
        {
          title: 'Recent error',
          render: (x) => (x.credential.last_error
            ? h('span', {}, x.credential.last_error.replaceAll('_', ' '), h('br'), h('span', { class: 'muted' }, fmtTime(x.credential.last_error_at)))
            : 'none'),
        },
      ], rows, { empty: 'No deployments: add a provider, a credential and models.', caption: 'Deployments' }));
    } catch (e) {
      if (e.status !== 401) clear(box).append(errorBox(e));
    }
  }
  await load();
}
