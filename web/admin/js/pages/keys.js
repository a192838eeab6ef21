// keys.js - API keys, teams and users: limits (rpm, rpd, tpm,
// max_parallel), budget and period with a spend bar, enable/disable,
// delete with a confirmation. A new key's secret is shown once, in a dialog
// with a copy button: the API never returns it again.
import { h, button, field, valueOf, table, badge, formDialog, confirmDialog, modal, copyButton, spendBar, fmtTime } from '../ui.js';

const PERIODS = [['monthly', 'monthly'], ['weekly', 'weekly'], ['daily', 'daily'], ['total', 'total']];
const STATUS = [['active', 'active'], ['disabled', 'disabled']];

// The limit and budget fields keys, teams and users share.
function limitFields(row) {
  return {
    rpm: field({ name: 'rpm', label: 'Requests per minute (rpm)', type: 'number', min: 1, value: row?.rpm, help: 'Empty: no limit.' }),
    rpd: field({ name: 'rpd', label: 'Requests per day (rpd)', type: 'number', min: 1, value: row?.rpd, help: 'Empty: no limit.' }),
    tpm: field({ name: 'tpm', label: 'Tokens per minute (tpm)', type: 'number', min: 1, value: row?.tpm, help: 'Empty: no limit.' }),
    max_parallel: field({ name: 'max_parallel', label: 'Requests in flight (max_parallel)', type: 'number', min: 1, value: row?.max_parallel, help: 'Empty: no limit.' }),
    budget_usd: field({ name: 'budget_usd', label: 'Budget (USD)', type: 'number', min: 0, step: 'any', value: row?.budget_usd, help: 'Empty: no budget.' }),
    budget_period: field({ name: 'budget_period', label: 'Budget period', type: 'select', options: PERIODS, value: row?.budget_period || 'monthly' }),
  };
}

function limitBody(f) {
  return {
    rpm: valueOf(f.rpm, 'int'), rpd: valueOf(f.rpd, 'int'), tpm: valueOf(f.tpm, 'int'),
    max_parallel: valueOf(f.max_parallel, 'int'), budget_usd: valueOf(f.budget_usd, 'num'),
    budget_period: valueOf(f.budget_period),
  };
}

const limitsText = (r) => {
  const parts = [['rpm', r.rpm], ['rpd', r.rpd], ['tpm', r.tpm], ['parallel', r.max_parallel]]
    .filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : h('span', { class: 'muted' }, 'none');
};

export async function render(root, ctx) {
  const { api, can, toast } = ctx;
  const [keys, teams, users] = await Promise.all([
    api.listAll('keys'),
    can('GET', 'teams') ? api.listAll('teams') : Promise.resolve([]),
    can('GET', 'users') ? api.listAll('users') : Promise.resolve([]),
  ]);
  const refresh = () => ctx.reload();
  const fail = (e) => toast(e.message, 'error');
  const teamOptions = [['', '(none)'], ...teams.map((t) => [t.id, t.name])];

  const setStatus = async (path, name, status) => {
    try {
      await api.patch(path, { status });
      toast(`${name} ${status === 'active' ? 'enabled' : 'disabled'}`);
      refresh();
    } catch (e) { fail(e); }
  };
  const remove = async (path, what, name) => {
    if (!await confirmDialog(`Delete ${what} ${name}? This cannot be undone.`)) return;
    try {
      await api.del(path);
    } catch (e) {
      if (e.status !== 409) { fail(e); return; }
      if (!await confirmDialog(`${e.message} Delete it and detach those?`, { ok: 'Delete all' })) return;
      try { await api.del(`${path}?cascade=true`); } catch (e2) { fail(e2); return; }
    }
    toast(`${name} deleted`);
    refresh();
  };
  const rowActions = (path, what, r) => h('span', {},
    can('PATCH', `${path}/{id}`) ? [
      button('Edit', () => forms[what](r), { small: true, title: `Edit ${what} ${r.name}` }),
      button(r.status === 'active' ? 'Disable' : 'Enable', () => setStatus(`${path}/${r.id}`, r.name, r.status === 'active' ? 'disabled' : 'active'),
        { small: true, title: `${r.status === 'active' ? 'Disable' : 'Enable'} ${what} ${r.name}` }),
    ] : null,
    can('DELETE', `${path}/{id}`) ? button('Delete', () => remove(`${path}/${r.id}`, what, r.name), { small: true, kind: 'danger', title: `Delete ${what} ${r.name}` }) : null);

  const showSecret = (created) => modal('Your new API key', (close) => h('div', {},
    h('div', { class: 'warn-box', role: 'alert' }, 'Copy this key now: it is shown only once and cannot be retrieved later.'),
    h('div', { class: 'secret' }, h('code', { 'data-secret': '' }, created.key), copyButton(created.key, 'Copy key')),
    h('div', { class: 'dialog-actions' }, button('Done', () => close(true), { kind: 'primary' }))));

  const forms = {
    key: (k) => {
      const f = {
        name: field({ name: 'name', label: 'Name', value: k?.name, required: true }),
        team_id: teams.length ? field({ name: 'team_id', label: 'Team', type: 'select', options: teamOptions, value: k?.team_id ?? '' }) : null,
        allowed_models: field({ name: 'allowed_models', label: 'Allowed models', value: (k?.allowed_models || []).join(', '), help: 'Comma-separated; empty: every model.' }),
        ...limitFields(k),
      };
      return formDialog(k ? `Edit key ${k.name}` : 'Create key', Object.values(f).filter(Boolean), async (close) => {
        const models = valueOf(f.allowed_models).split(',').map((s) => s.trim()).filter(Boolean);
        const body = { name: valueOf(f.name), allowed_models: models.length ? models : null, ...limitBody(f) };
        if (f.team_id) body.team_id = valueOf(f.team_id, 'int');
        if (k) {
          await api.patch(`keys/${k.id}`, body);
          close(true);
          toast(`Key ${body.name} saved`);
        } else {
          const created = await api.post('keys', body);
          close(true);
          await showSecret(created);
        }
        refresh();
      }, { submit: k ? 'Save' : 'Create key' });
    },
    team: (t) => {
      const f = { name: field({ name: 'name', label: 'Name', value: t?.name, required: true }), ...limitFields(t) };
      return formDialog(t ? `Edit team ${t.name}` : 'Add team', Object.values(f), async (close) => {
        const body = { name: valueOf(f.name), ...limitBody(f) };
        if (t) await api.patch(`teams/${t.id}`, body);
        else await api.post('teams', body);
        close(true);
        toast(`Team ${body.name} saved`);
        refresh();
      }, { submit: t ? 'Save' : 'Add team' });
    },
    user: (u) => {
      const f = {
        name: field({ name: 'name', label: 'Name', value: u?.name, required: true }),
        email: field({ name: 'email', label: 'Email', type: 'email', value: u?.email }),
        team_id: teams.length ? field({ name: 'team_id', label: 'Team', type: 'select', options: teamOptions, value: u?.team_id ?? '' }) : null,
        ...limitFields(u),
      };
      return formDialog(u ? `Edit user ${u.name}` : 'Add user', Object.values(f).filter(Boolean), async (close) => {
        const body = { name: valueOf(f.name), email: valueOf(f.email) || null, ...limitBody(f) };
        if (f.team_id) body.team_id = valueOf(f.team_id, 'int');
        if (u) await api.patch(`users/${u.id}`, body);
        else await api.post('users', body);
        close(true);
        toast(`User ${body.name} saved`);
        refresh();
      }, { submit: u ? 'Save' : 'Add user' });
    },
  };

  const spend = (r) => spendBar(r.spend_usd, r.budget_usd);
  root.append(
    h('h1', { id: 'page-title' }, 'Keys, teams & users'),
    h('h2', {}, 'API keys'),
    h('div', { class: 'toolbar' }, can('POST', 'keys') ? button('Create key', () => forms.key(null), { kind: 'primary' }) : null),
    table([
      { title: 'Name', render: (k) => h('strong', {}, k.name) },
      { title: 'Key', render: (k) => h('span', { class: 'mono' }, `${k.prefix}...`) },
      { title: 'Team', render: (k) => k.team || '' },
      { title: 'Status', render: (k) => badge(k.status) },
      { title: 'Limits', render: limitsText },
      { title: 'Spend', render: spend },
      { title: 'Last used', render: (k) => fmtTime(k.last_used_at) || h('span', { class: 'muted' }, 'never') },
      { title: 'Actions', cls: 'actions', render: (k) => rowActions('keys', 'key', k) },
    ], keys, { empty: 'No keys yet.', caption: 'API keys' }));

  if (can('GET', 'teams')) {
    root.append(h('h2', {}, 'Teams'),
      h('div', { class: 'toolbar' }, can('POST', 'teams') ? button('Add team', () => forms.team(null), { kind: 'primary' }) : null),
      table([
        { title: 'Name', render: (t) => h('strong', {}, t.name) },
        { title: 'Status', render: (t) => badge(t.status) },
        { title: 'Limits', render: limitsText },
        { title: 'Spend', render: spend },
        { title: 'Actions', cls: 'actions', render: (t) => rowActions('teams', 'team', t) },
      ], teams, { empty: 'No teams yet.', caption: 'Teams' }));
  }
  if (can('GET', 'users')) {
    root.append(h('h2', {}, 'Users'),
      h('div', { class: 'toolbar' }, can('POST', 'users') ? button('Add user', () => forms.user(null), { kind: 'primary' }) : null),
      table([
        { title: 'Name', render: (u) => h('strong', {}, u.name) },
        { title: 'Email', render: (u) => u.email || '' },
        { title: 'Team', render: (u) => u.team || '' },
        { title: 'Status', render: (u) => badge(u.status) },
        { title: 'Limits', render: limitsText },
        { title: 'Spend', render: spend },
        { title: 'Actions', cls: 'actions', render: (u) => rowActions('users', 'user', u) },
      ], users, { empty: 'No users yet.', caption: 'Users' }));
  }
}
