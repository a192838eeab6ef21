// providers.js - providers and their credentials (the admin API's
// "connections"): list, create, edit, enable/disable, delete with a
// confirmation, and "Test connection" (POST connections/{id}/test: one small
// real chat call; shows the latency, the model it used and the models the
// provider lists, or the error text). A credential's secret (api_key) is write-only:
// the API never returns it, the form never shows it.
import { h, clear, button, field, valueOf, table, badge, formDialog, confirmDialog, errorBox, fmtTime } from '../ui.js';

const KINDS = [['openai_compatible', 'OpenAI-compatible'], ['openai', 'OpenAI'], ['anthropic', 'Anthropic'],
  ['gemini', 'Gemini']];
const STATUS = [['active', 'active'], ['disabled', 'disabled']];

export async function render(root, ctx) {
  const { api, can, toast } = ctx;
  const [providers, conns, models] = await Promise.all([
    api.listAll('providers'), api.listAll('connections'),
    can('GET', 'models') ? api.listAll('models') : Promise.resolve([]),
  ]);
  const byId = new Map(providers.map((p) => [p.id, p]));
  const refresh = () => ctx.reload();

  // ---- providers ----
  const providerForm = (p) => {
    const f = {
      name: field({ name: 'name', label: 'Name', value: p?.name, required: true, help: 'Used in model names: <name>/<model>.' }),
      kind: field({ name: 'kind', label: 'Kind', type: 'select', options: KINDS, value: p?.kind || 'openai_compatible' }),
      base_url: field({ name: 'base_url', label: 'Base URL', value: p?.base_url, required: true, placeholder: 'https://api.example.com/v1' }),
      status: field({ name: 'status', label: 'Status', type: 'select', options: STATUS, value: p?.status || 'active' }),
      first_byte_timeout_ms: field({ name: 'first_byte_timeout_ms', label: 'First-byte timeout (ms)', type: 'number', min: 1, value: p?.first_byte_timeout_ms, help: 'Empty: the default.' }),
      total_timeout_ms: field({ name: 'total_timeout_ms', label: 'Total timeout (ms)', type: 'number', min: 1, value: p?.total_timeout_ms, help: 'Empty: the default.' }),
    };
    return formDialog(p ? `Edit provider ${p.name}` : 'Add provider', Object.values(f), async (close) => {
      const body = {
        name: valueOf(f.name), kind: valueOf(f.kind), base_url: valueOf(f.base_url), status: valueOf(f.status),
        first_byte_timeout_ms: valueOf(f.first_byte_timeout_ms, 'int'), total_timeout_ms: valueOf(f.total_timeout_ms, 'int'),
      };
      if (p) await api.patch(`providers/${p.id}`, body);
      else await api.post('providers', body);
      close(true);
      toast(p ? `Provider ${body.name} saved` : `Provider ${body.name} added`);
      refresh();
    }, { submit: p ? 'Save' : 'Add provider' });
  };

  const setStatus = async (path, name, status) => {
    try {
      await api.patch(path, { status });
      toast(`${name} ${status === 'active' ? 'enabled' : 'disabled'}`);
      refresh();
    } catch (e) { toast(e.message, 'error'); }
  };

  const remove = async (path, what, name) => {
    if (!await confirmDialog(`Delete ${what} ${name}? This cannot be undone.`)) return;
    try {
      await api.del(path);
    } catch (e) {
      if (e.status !== 409) { toast(e.message, 'error'); return; }
      // still referred to: say by what, and offer to remove those too
      if (!await confirmDialog(`${e.message} Delete it together with those references?`, { ok: 'Delete all' })) return;
      try { await api.del(`${path}?cascade=true`); } catch (e2) { toast(e2.message, 'error'); return; }
    }
    toast(`${name} deleted`);
    refresh();
  };

  const pActions = (p) => h('span', {},
    can('PATCH', 'providers/{id}') ? [
      button('Edit', () => providerForm(p), { small: true, title: `Edit provider ${p.name}` }),
      button(p.status === 'active' ? 'Disable' : 'Enable',
        () => setStatus(`providers/${p.id}`, p.name, p.status === 'active' ? 'disabled' : 'active'),
        { small: true, title: `${p.status === 'active' ? 'Disable' : 'Enable'} provider ${p.name}` }),
    ] : null,
    can('DELETE', 'providers/{id}')
      ? button('Delete', () => remove(`providers/${p.id}`, 'provider', p.name), { small: true, kind: 'danger', title: `Delete provider ${p.name}` })
      : null);

  root.append(
    h('h1', { id: 'page-title' }, 'Providers'),
    h('div', { class: 'toolbar' },
      can('POST', 'providers') ? button('Add provider', () => providerForm(null), { kind: 'primary' }) : null),
    table([
      { title: 'Name', render: (p) => h('strong', {}, p.name) },
      { title: 'Kind', key: 'kind' },
      { title: 'Base URL', render: (p) => h('span', { class: 'mono' }, p.base_url) },
      { title: 'Status', render: (p) => badge(p.status) },
      { title: 'Models', render: (p) => String(models.filter((m) => m.provider_id === p.id).length) },
      { title: 'Actions', cls: 'actions', render: pActions },
    ], providers, { empty: 'No providers yet: add one to route requests to it.', caption: 'Providers' }));

  // ---- credentials ----
  const connForm = (c) => {
    const f = {
      provider_id: field({
        name: 'provider_id', label: 'Provider', type: 'select', value: c?.provider_id ?? providers[0]?.id,
        options: providers.map((p) => [p.id, p.name]),
      }),
      name: field({ name: 'name', label: 'Name', value: c?.name, required: true }),
      api_key: field({
        name: 'api_key', label: c ? 'New API key' : 'API key', type: 'password', autocomplete: 'new-password',
        help: c ? (c.has_credential ? 'A key is stored; it is never shown. Leave empty to keep it.' : 'No key stored.')
          : 'Stored encrypted; never shown again after saving.',
      }),
      status: field({ name: 'status', label: 'Status', type: 'select', options: [...STATUS, ['cooling', 'cooling']], value: c?.status || 'active' }),
      priority: field({ name: 'priority', label: 'Priority', type: 'number', value: c?.priority ?? 0, help: 'Lower is tried first.' }),
      weight: field({ name: 'weight', label: 'Weight', type: 'number', min: 0, value: c?.weight ?? 1 }),
      rate_limit_per_minute: field({ name: 'rate_limit_per_minute', label: 'Requests per minute', type: 'number', min: 1, value: c?.rate_limit_per_minute, help: 'Empty: no limit.' }),
      rate_limit_per_day: field({ name: 'rate_limit_per_day', label: 'Requests per day', type: 'number', min: 1, value: c?.rate_limit_per_day, help: 'Empty: no limit.' }),
    };
    return formDialog(c ? `Edit credential ${c.name}` : 'Add credential', Object.values(f), async (close) => {
      const body = {
        provider_id: valueOf(f.provider_id, 'int'), name: valueOf(f.name), status: valueOf(f.status),
        priority: valueOf(f.priority, 'int'), weight: valueOf(f.weight, 'int'),
        rate_limit_per_minute: valueOf(f.rate_limit_per_minute, 'int'), rate_limit_per_day: valueOf(f.rate_limit_per_day, 'int'),
      };
      const secret = f.api_key.input.value;
      if (secret) body.api_key = secret;
      if (c) await api.patch(`connections/${c.id}`, body);
      else await api.post('connections', body);
      f.api_key.input.value = '';
      close(true);
      toast(c ? `Credential ${body.name} saved` : `Credential ${body.name} added`);
      refresh();
    }, { submit: c ? 'Save' : 'Add credential' });
  };

  const results = new Map(); // connection id -> its test result element
  const runTest = async (c, btn) => {
    const out = results.get(c.id);
    clear(out).append(h('span', { class: 'muted' }, 'Testing...'));
    btn.disabled = true;
    try {
      const r = await api.post(`connections/${c.id}/test`, {});
      const latency = r.latency_ms === null ? '' : ` in ${Math.round(r.latency_ms)} ms`;
      const found = r.models || [];
      const SHOWN = 30;
      clear(out).append(r.ok
        ? h('div', { class: 'ok-box' },
          h('strong', {}, `OK${latency}`), ` (HTTP ${r.status})`,
          h('ul', {},
            h('li', {}, 'Model tested: ', h('span', { class: 'mono' }, r.model || '(none)')),
            r.models
              ? h('li', {}, `Models found (${found.length}): `,
                found.length ? h('span', { class: 'mono' }, found.slice(0, SHOWN).join(', ')) : 'none',
                found.length > SHOWN ? ` and ${found.length - SHOWN} more` : '')
              : h('li', {}, 'Models found: not listed', r.models_error ? ` (${r.models_error})` : ''),
            r.answer ? h('li', {}, 'Answer: ', r.answer) : null))
        : h('div', { class: 'error-box' },
          h('strong', {}, `Failed${latency}`), r.status ? ` (HTTP ${r.status})` : ' (no answer)', ': ',
          r.error || 'no error text'));
    } catch (e) {
      clear(out).append(errorBox(e));
    } finally {
      btn.disabled = false;
    }
  };

  const cActions = (c) => {
    const out = h('div', { class: 'test-result', 'aria-live': 'polite', 'data-test-result': c.id });
    results.set(c.id, out);
    const testBtn = can('POST', 'connections/{id}/test')
      ? button('Test connection', () => runTest(c, testBtn), { small: true, title: `Test connection ${c.name}` }) : null;
    return h('div', {},
      testBtn,
      can('PATCH', 'connections/{id}') ? [
        button('Edit', () => connForm(c), { small: true, title: `Edit credential ${c.name}` }),
        button(c.status === 'active' ? 'Disable' : 'Enable',
          () => setStatus(`connections/${c.id}`, c.name, c.status === 'active' ? 'disabled' : 'active'),
          { small: true, title: `${c.status === 'active' ? 'Disable' : 'Enable'} credential ${c.name}` }),
      ] : null,
      can('DELETE', 'connections/{id}')
        ? button('Delete', () => remove(`connections/${c.id}`, 'credential', c.name), { small: true, kind: 'danger', title: `Delete credential ${c.name}` })
        : null,
      out);
  };

  root.append(
    h('h2', {}, 'Credentials'),
    h('div', { class: 'toolbar' },
      can('POST', 'connections') ? button('Add credential', () => connForm(null), { kind: 'primary', disabled: providers.length === 0 }) : null,
      providers.length === 0 ? h('span', { class: 'muted' }, 'Add a provider first.') : null),
    table([
      { title: 'Name', render: (c) => h('strong', {}, c.name) },
      { title: 'Provider', render: (c) => byId.get(c.provider_id)?.name ?? `#${c.provider_id}` },
      { title: 'Status', render: (c) => badge(c.status) },
      { title: 'Key', render: (c) => (c.has_credential ? 'stored' : 'none') },
      { title: 'Priority / weight', render: (c) => `${c.priority} / ${c.weight}` },
      { title: 'Last error', render: (c) => (c.last_error ? h('span', {}, c.last_error, h('br'), h('span', { class: 'muted' }, fmtTime(c.last_error_at))) : '') },
      { title: 'Actions', cls: 'actions', render: cActions },
    ], conns, { empty: 'No credentials yet.', caption: 'Credentials' }));
}
