// models.js - models (a provider's upstream model under a public name: the
// alias clients use), and routing groups with their members (strategy,
// weight, priority). Members are reordered with Up/Down buttons, which
// rewrite the members' priorities (lower is tried first).
import { h, button, field, valueOf, table, badge, formDialog, confirmDialog } from '../ui.js';

const STRATEGIES = ['priority', 'round_robin', 'smooth_weighted', 'weighted_random', 'least_latency',
  'least_busy', 'lowest_cost'].map((s) => [s, s]);
const STATUS = [['active', 'active'], ['disabled', 'disabled']];

export async function render(root, ctx) {
  const { api, can, toast } = ctx;
  const [providers, models, groups, conns] = await Promise.all([
    api.listAll('providers'), api.listAll('models'), api.listAll('groups'),
    can('GET', 'connections') ? api.listAll('connections') : Promise.resolve([]),
  ]);
  const pname = new Map(providers.map((p) => [p.id, p.name]));
  const cname = new Map(conns.map((c) => [c.id, c.name]));
  const refresh = () => ctx.reload();
  const fail = (e) => toast(e.message, 'error');

  const remove = async (path, what, name) => {
    if (!await confirmDialog(`Delete ${what} ${name}? This cannot be undone.`)) return;
    try {
      await api.del(path);
    } catch (e) {
      if (e.status !== 409) { fail(e); return; }
      if (!await confirmDialog(`${e.message} Delete it together with those references?`, { ok: 'Delete all' })) return;
      try { await api.del(`${path}?cascade=true`); } catch (e2) { fail(e2); return; }
    }
    toast(`${name} deleted`);
    refresh();
  };

  // ---- models ----
  const modelForm = (m) => {
    const f = {
      provider_id: field({ name: 'provider_id', label: 'Provider', type: 'select', value: m?.provider_id ?? providers[0]?.id, options: providers.map((p) => [p.id, p.name]) }),
      upstream_name: field({ name: 'upstream_name', label: 'Upstream model', value: m?.upstream_name, required: true, help: "The provider's name for it." }),
      public_name: field({ name: 'public_name', label: 'Public name (alias)', value: m?.public_name, help: 'What clients ask for; empty: the upstream name.' }),
      input_cost_per_1m: field({ name: 'input_cost_per_1m', label: 'Input $ per 1M tokens', type: 'number', step: 'any', min: 0, value: m?.input_cost_per_1m ?? 0 }),
      output_cost_per_1m: field({ name: 'output_cost_per_1m', label: 'Output $ per 1M tokens', type: 'number', step: 'any', min: 0, value: m?.output_cost_per_1m ?? 0 }),
      context_window: field({ name: 'context_window', label: 'Context window (tokens)', type: 'number', min: 1, value: m?.context_window }),
      status: field({ name: 'status', label: 'Status', type: 'select', options: STATUS, value: m?.status || 'active' }),
    };
    return formDialog(m ? `Edit model ${m.public_name}` : 'Add model', Object.values(f), async (close) => {
      const body = {
        provider_id: valueOf(f.provider_id, 'int'), upstream_name: valueOf(f.upstream_name),
        input_cost_per_1m: valueOf(f.input_cost_per_1m, 'num') ?? 0, output_cost_per_1m: valueOf(f.output_cost_per_1m, 'num') ?? 0,
        context_window: valueOf(f.context_window, 'int'), status: valueOf(f.status),
      };
      const pub = valueOf(f.public_name);
      if (pub) body.public_name = pub;
      if (m) await api.patch(`models/${m.id}`, body);
      else await api.post('models', body);
      close(true);
      toast(m ? 'Model saved' : 'Model added');
      refresh();
    }, { submit: m ? 'Save' : 'Add model' });
  };

  root.append(
    h('h1', { id: 'page-title' }, 'Models & groups'),
    h('h2', {}, 'Models'),
    h('div', { class: 'toolbar' },
      can('POST', 'models') ? button('Add model', () => modelForm(null), { kind: 'primary', disabled: providers.length === 0 }) : null),
    table([
      { title: 'Public name', render: (m) => h('strong', { class: 'mono' }, m.public_name) },
      { title: 'Provider', render: (m) => pname.get(m.provider_id) ?? `#${m.provider_id}` },
      { title: 'Upstream model', render: (m) => h('span', { class: 'mono' }, m.upstream_name) },
      { title: 'Status', render: (m) => badge(m.status) },
      { title: '$ in / out per 1M', render: (m) => `${m.input_cost_per_1m} / ${m.output_cost_per_1m}` },
      {
        title: 'Actions', cls: 'actions', render: (m) => h('span', {},
          can('PATCH', 'models/{id}') ? button('Edit', () => modelForm(m), { small: true, title: `Edit model ${m.public_name}` }) : null,
          can('DELETE', 'models/{id}') ? button('Delete', () => remove(`models/${m.id}`, 'model', m.public_name), { small: true, kind: 'danger', title: `Delete model ${m.public_name}` }) : null),
      },
    ], models, { empty: 'No models yet.', caption: 'Models' }));

  // ---- groups ----
  const groupForm = (g) => {
    const f = {
      name: g ? null : field({ name: 'name', label: 'Name', required: true, help: 'The model name clients ask for.' }),
      strategy: field({ name: 'strategy', label: 'Strategy', type: 'select', options: STRATEGIES, value: g?.strategy || 'priority' }),
      status: field({ name: 'status', label: 'Status', type: 'select', options: STATUS, value: g?.status || 'active' }),
      description: field({ name: 'description', label: 'Description', value: g?.description }),
    };
    return formDialog(g ? `Edit group ${g.name}` : 'Add group', Object.values(f).filter(Boolean), async (close) => {
      const body = { strategy: valueOf(f.strategy), status: valueOf(f.status), description: valueOf(f.description) || null };
      if (g) await api.patch(`groups/${g.id}`, body);
      else await api.post('groups', { name: valueOf(f.name), ...body });
      close(true);
      toast(g ? `Group ${g.name} saved` : 'Group added');
      refresh();
    }, { submit: g ? 'Save' : 'Add group' });
  };

  const memberLabel = (m) => `${pname.get(m.provider_id) ?? m.provider_id}/${m.upstream_name}`;

  const memberForm = (g, m) => {
    const f = {
      provider_id: m ? null : field({ name: 'provider_id', label: 'Provider', type: 'select', value: providers[0]?.id, options: providers.map((p) => [p.id, p.name]) }),
      upstream_name: m ? null : field({ name: 'upstream_name', label: 'Upstream model', required: true }),
      weight: field({ name: 'weight', label: 'Weight', type: 'number', min: 0, value: m?.weight ?? 1 }),
      priority: field({ name: 'priority', label: 'Priority', type: 'number', value: m?.priority ?? g.members.length, help: 'Lower is tried first.' }),
    };
    return formDialog(m ? `Edit member ${memberLabel(m)}` : `Add member to ${g.name}`, Object.values(f).filter(Boolean), async (close) => {
      const body = { weight: valueOf(f.weight, 'int'), priority: valueOf(f.priority, 'int') };
      if (m) await api.patch(`groups/${g.id}/members/${m.id}`, body);
      else await api.post(`groups/${g.id}/members`, { provider_id: valueOf(f.provider_id, 'int'), upstream_name: valueOf(f.upstream_name), ...body });
      close(true);
      toast('Member saved');
      refresh();
    }, { submit: m ? 'Save' : 'Add member' });
  };

  // Moves member i of g by delta and rewrites priorities as the new order
  // (0, 1, 2, ...), patching only the members whose priority changes.
  const move = async (g, i, delta) => {
    const order = [...g.members];
    const j = i + delta;
    if (j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j], order[i]];
    try {
      for (const [k, m] of order.entries())
        if (m.priority !== k) await api.patch(`groups/${g.id}/members/${m.id}`, { priority: k });
      toast(`Moved ${memberLabel(g.members[i])} ${delta < 0 ? 'up' : 'down'}`);
    } catch (e) { fail(e); }
    await refresh();
    // keep the keyboard where it was: on the moved member's same button
    const again = document.querySelector(`[data-move="${g.id}:${order[j].id}:${delta < 0 ? 'up' : 'down'}"]`);
    if (again && !again.disabled) again.focus();
    else document.querySelector(`[data-move="${g.id}:${order[j].id}:${delta < 0 ? 'down' : 'up'}"]`)?.focus();
  };

  const editMembers = can('PATCH', 'groups/{id}/members/{member_id}');
  root.append(h('h2', {}, 'Groups'),
    h('div', { class: 'toolbar' },
      can('POST', 'groups') ? button('Add group', () => groupForm(null), { kind: 'primary' }) : null));
  if (!groups.length) root.append(h('p', { class: 'empty' }, 'No groups yet: a group routes one model name to several members.'));
  for (const g of groups) {
    g.members = [...(g.members || [])].sort((a, b) => a.priority - b.priority || a.id - b.id);
    const n = g.members.length;
    root.append(h('section', { class: 'panel', 'aria-label': `Group ${g.name}`, 'data-group': g.name },
      h('div', { class: 'toolbar' },
        h('strong', { class: 'mono' }, g.name), badge(g.status),
        h('span', { class: 'muted' }, `strategy: ${g.strategy}`),
        g.description ? h('span', { class: 'muted' }, g.description) : null,
        can('PATCH', 'groups/{id}') ? button('Edit group', () => groupForm(g), { small: true, title: `Edit group ${g.name}` }) : null,
        can('POST', 'groups/{id}/members') ? button('Add member', () => memberForm(g, null), { small: true, title: `Add member to group ${g.name}` }) : null,
        can('DELETE', 'groups/{id}') ? button('Delete group', () => remove(`groups/${g.id}`, 'group', g.name), { small: true, kind: 'danger', title: `Delete group ${g.name}` }) : null),
      table([
        { title: 'Order', render: (m) => String(g.members.indexOf(m) + 1) },
        { title: 'Member', render: (m) => h('span', { class: 'mono' }, memberLabel(m)) },
        { title: 'Credential', render: (m) => (m.connection_id ? cname.get(m.connection_id) ?? `#${m.connection_id}` : 'any') },
        { title: 'Weight', key: 'weight' },
        { title: 'Priority', key: 'priority' },
        {
          title: 'Actions', cls: 'actions', render: (m) => {
            const i = g.members.indexOf(m);
            return h('span', {},
              editMembers ? h('span', { class: 'order' },
                h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Move ${memberLabel(m)} up`, 'data-move': `${g.id}:${m.id}:up`, disabled: i === 0, onclick: () => move(g, i, -1) }, '\u2191 Up'),
                h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Move ${memberLabel(m)} down`, 'data-move': `${g.id}:${m.id}:down`, disabled: i === n - 1, onclick: () => move(g, i, 1) }, '\u2193 Down')) : null,
              editMembers ? button('Edit', () => memberForm(g, m), { small: true, title: `Edit member ${memberLabel(m)}` }) : null,
              can('DELETE', 'groups/{id}/members/{member_id}') ? button('Remove', async () => {
                if (!await confirmDialog(`Remove ${memberLabel(m)} from ${g.name}?`, { ok: 'Remove' })) return;
                try { await api.del(`groups/${g.id}/members/${m.id}`); toast('Member removed'); refresh(); } catch (e) { fail(e); }
              }, { small: true, kind: 'danger', title: `Remove ${memberLabel(m)} from ${g.name}` }) : null);
          },
        },
      ], g.members, { empty: 'No members.', caption: `Members of ${g.name}` })));
  }
}
