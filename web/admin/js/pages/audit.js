// pages/audit.js - the audit log (GET audit): every admin change, newest
// first, filtered by kind of resource, id, actor, action and time; a row
// opens its before / after (secrets come masked from the server).
import { h, clear, field, table, button, errorBox, fmtTime } from '../ui.js';
import { rangePicker, qs, iso, pager } from '../monitor.js';

const ENTITIES = ['', 'providers', 'connections', 'models', 'groups', 'group_members', 'keys', 'teams', 'users'];
const ACTIONS = ['', 'create', 'update', 'delete'];

export async function render(root, ctx) {
  const { api } = ctx;
  const f = {
    entity: field({ name: 'entity', label: 'Resource', type: 'select', options: ENTITIES.map((e) => [e, e || 'Any']) }),
    entity_id: field({ name: 'entity_id', label: 'Id' }),
    actor: field({ name: 'actor', label: 'Actor' }),
    action: field({ name: 'action', label: 'Action', type: 'select', options: ACTIONS.map((a) => [a, a || 'Any']) }),
  };
  const picker = rangePicker(() => list.reset().catch(showErr), '7d');
  const err = h('div');
  const listBox = h('div');
  const form = h('form', { class: 'filters', novalidate: true }, Object.values(f),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Filter'));
  form.addEventListener('submit', (e) => { e.preventDefault(); list.reset().catch(showErr); });
  clear(root).append(h('h1', { id: 'page-title' }, 'Audit log'), picker.el, form, err, listBox);
  function showErr(e) { if (e.status !== 401) clear(err).append(errorBox(e)); }

  // focusable: a scrolled block must be reachable by keyboard
  const json = (v) => h('pre', { class: 'json', tabindex: '0' }, v === null || v === undefined ? '-' : JSON.stringify(v, null, 2));
  const list = pager(listBox, (cursor) => {
    clear(err);
    const r = picker.get();
    const filters = Object.fromEntries(Object.entries(f).map(([k, w]) => [k, w.input.value.trim()]));
    return api.get(`audit${qs({ from: iso(r.from), to: iso(r.to), limit: 50, cursor, ...filters })}`);
  }, (rows) => table([
    { title: 'Time', render: (x) => fmtTime(x.created_at) },
    { title: 'Actor', render: (x) => x.actor },
    { title: 'Action', render: (x) => x.action },
    { title: 'Resource', render: (x) => `${x.entity}${x.entity_id ? ` ${x.entity_id}` : ''}` },
    {
      title: 'Change',
      render: (x) => {
        const cell = h('div');
        const name = (verb) => `${verb} before and after of change ${x.id}`;
        const b = button('Show', () => {
          const open = cell.childElementCount > 1;
          if (open) cell.lastChild.remove();
          else cell.append(h('div', {}, h('strong', {}, 'Before'), json(x.before), h('strong', {}, 'After'), json(x.after)));
          b.textContent = open ? 'Show' : 'Hide';
          b.setAttribute('aria-label', name(open ? 'Show' : 'Hide'));
          b.setAttribute('aria-expanded', String(!open));
        }, { small: true, title: name('Show') });
        b.setAttribute('aria-expanded', 'false');
        cell.append(b);
        return cell;
      },
    },
  ], rows, { empty: 'No changes match.', caption: 'Admin changes, newest first' }));
  await list.show();
}
