// pages/tasks.js - every caller's async tasks (the admin API's tasks
// routes: the admin key or an operator's or viewer's sign-in), filtered by
// status and type, paged by `after`; a task's live progress from
// tasks/{id}/events (SSE read through fetch with the bearer header).
import { h, clear, field, table, button, errorBox, fmtTime } from '../ui.js';
import { qs } from '../monitor.js';
import { readEvents } from '../sse.js';

const TASKS = '/api/v1/admin/ai/tasks';
const STATUSES = ['', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired'];
const END = new Set(['succeeded', 'failed', 'cancelled', 'expired']);

function statusBadge(s) {
  const cls = { succeeded: 'ok', failed: 'err', expired: 'err', running: 'warn', queued: 'off', cancelled: 'off' }[s] || 'off';
  return h('span', { class: `badge badge-${cls}` }, s);
}

function progressOf(t) {
  const p = Number(t.progress);
  if (!Number.isFinite(p)) return '-';
  return h('progress', { class: 'progress', max: '100', value: String(Math.round(p)), 'aria-label': `Progress of ${t.id}` }, `${p}%`);
}

export async function render(root, ctx) {
  const { api } = ctx;
  const statusF = field({ name: 'status', label: 'Status', type: 'select', options: STATUSES.map((s) => [s, s || 'Any']) });
  const typeF = field({ name: 'type', label: 'Type', placeholder: 'video.generate' });
  const listBox = h('div');
  const follow = h('div');
  const err = h('div');
  const form = h('form', { class: 'filters', novalidate: true }, statusF, typeF,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Filter'));
  const pages = []; // the `after` of each page shown before this one
  let after = '';
  form.addEventListener('submit', (e) => { e.preventDefault(); pages.length = 0; after = ''; load(); });
  clear(root).append(h('h1', { id: 'page-title' }, 'Tasks'), form, err, listBox, follow);
  let stream = null;

  async function load() {
    clear(err);
    try {
      const r = await api.get(`${TASKS}${qs({ status: statusF.input.value, type: typeF.input.value.trim(), limit: 20, after })}`, { quiet401: true });
      const rows = r.data || [];
      clear(listBox).append(table([
        { title: 'Task', render: (t) => h('span', { class: 'mono' }, t.id) },
        { title: 'Type', render: (t) => t.type },
        { title: 'Status', render: (t) => statusBadge(t.status) },
        { title: 'Progress', render: progressOf },
        { title: 'Created', render: (t) => fmtTime(t.created_at) },
        { title: 'Finished', render: (t) => fmtTime(t.finished_at) },
        { title: 'Error', render: (t) => (t.error ? `${t.error.code}: ${t.error.message || ''}` : '') },
        { title: 'Progress events', cls: 'actions', render: (t) => button('Follow', () => watch(t), { small: true, title: `Follow task ${t.id}` }) },
      ], rows, { empty: 'No tasks match.', caption: 'Tasks, newest first' }),
      h('div', { class: 'toolbar' },
        button('First page', () => { pages.length = 0; after = ''; load(); }, { disabled: !after }),
        button('Next page', () => { pages.push(after); after = r.last_id; load(); }, { disabled: !r.has_more }),
        h('span', { class: 'muted' }, `${rows.length} task${rows.length === 1 ? '' : 's'}`)));
    } catch (e) {
      clear(err).append(errorBox(e));
    }
  }

  async function watch(t) {
    if (stream) stream.abort();
    const ac = new AbortController();
    stream = ac;
    const state = h('p', { role: 'status' }, statusBadge(t.status), ' ', progressOf(t));
    const log = h('ol', { class: 'events mono', tabindex: '0', 'aria-label': 'Events' });
    clear(follow).append(h('section', { class: 'panel', 'aria-labelledby': 'task-follow' },
      h('h2', { id: 'task-follow', tabindex: '-1' }, `Task ${t.id}`), state,
      button('Stop following', () => ac.abort(), { small: true }), log));
    follow.querySelector('h2').focus();
    try {
      await readEvents(`${TASKS}/${encodeURIComponent(t.id)}/events`, (event, data) => {
        let task = null;
        try { task = JSON.parse(data); } catch { task = null; }
        log.append(h('li', {}, `${new Date().toLocaleTimeString()} ${event}: ${task && task.status ? task.status : ''}` +
          (task && task.progress !== undefined && task.progress !== null ? ` progress ${task.progress}` : '')));
        if (task && task.status) clear(state).append(statusBadge(task.status), ' ', progressOf(task));
        if (task && END.has(task.status)) load();
      }, ac.signal);
      log.append(h('li', {}, 'stream ended'));
    } catch (e) {
      if (e.name !== 'AbortError') log.append(h('li', { class: 'error-box' }, e.message));
    }
  }

  await load();
}
