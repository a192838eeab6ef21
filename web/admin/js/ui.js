// ui.js - DOM helpers. Text always goes in as text nodes or textContent,
// never parsed as markup, so data from the API cannot become markup.
let seq = 0;
export const uid = (p = 'f') => `${p}-${++seq}`;

// h('button', {class: 'btn', onclick: fn, disabled: true}, 'Save', child...)
// attrs: on* functions become listeners, true/false toggle boolean
// attributes, null/undefined are skipped, everything else is an attribute.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'value' && 'value' in el) el.value = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

export function button(label, onclick, { kind = '', small = false, title = null, disabled = false } = {}) {
  const cls = ['btn', kind && `btn-${kind}`, small && 'btn-small'].filter(Boolean).join(' ');
  return h('button', { type: 'button', class: cls, onclick, title, 'aria-label': title, disabled }, label);
}

// A labelled input. spec: {name, label, type ('text', 'number', 'password',
// 'select', 'checkbox', 'textarea'), value, options: [[value, text]...],
// required, help, placeholder, step, min, autocomplete}. Returns the
// wrapper; wrapper.input is the control.
export function field(spec) {
  const id = uid(spec.name || 'f');
  const type = spec.type || 'text';
  let input;
  const common = {
    id, name: spec.name, required: !!spec.required, placeholder: spec.placeholder,
    'aria-describedby': spec.help ? `${id}-help` : null,
  };
  if (type === 'select') {
    input = h('select', common, (spec.options || []).map(([v, t]) =>
      h('option', { value: v, selected: String(v) === String(spec.value ?? '') }, t)));
  } else if (type === 'textarea') {
    input = h('textarea', { ...common, rows: spec.rows || 3 });
    input.value = spec.value ?? '';
  } else if (type === 'checkbox') {
    input = h('input', { ...common, type: 'checkbox', checked: !!spec.value });
  } else {
    input = h('input', {
      ...common, type, step: spec.step, min: spec.min, autocomplete: spec.autocomplete || 'off',
    });
    input.value = spec.value ?? '';
  }
  const wrap = h('div', { class: type === 'checkbox' ? 'field field-check' : 'field' },
    type === 'checkbox' ? [input, h('label', { for: id }, spec.label)] : [h('label', { for: id }, spec.label), input],
    spec.help ? h('span', { class: 'help', id: `${id}-help` }, spec.help) : null);
  wrap.input = input;
  return wrap;
}

// The value of a field as the API wants it: numbers as numbers, empty
// optional numbers as null, checkboxes as booleans.
export function valueOf(wrap, kind) {
  const i = wrap.input;
  if (i.type === 'checkbox') return i.checked;
  const v = i.value.trim();
  if (kind === 'int') return v === '' ? null : Number.parseInt(v, 10);
  if (kind === 'num') return v === '' ? null : Number(v);
  return v;
}

// A table: columns [{title, render(row) -> node or text, cls}], rows.
export function table(columns, rows, { empty = 'Nothing here yet.', caption = null } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('table', { class: 'data' },
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.title)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => {
      const v = c.render ? c.render(r) : r[c.key];
      return h('td', { class: c.cls || null }, v === null || v === undefined ? '' : v);
    })))));
}

export function badge(status) {
  const cls = { active: 'ok', ok: 'ok', disabled: 'off', cooling: 'warn', error: 'err' }[status] || 'off';
  return h('span', { class: `badge badge-${cls}` }, status);
}

// A modal dialog (the native <dialog>: focus is trapped, Escape closes).
// build(close) returns the body; resolves with what close() is given
// (undefined when dismissed).
export function modal(title, build) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const dlg = h('dialog', { 'aria-labelledby': titleId });
    let done = false;
    const close = (v) => {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(undefined); });
    dlg.append(h('h2', { id: titleId }, title), build(close));
    document.body.append(dlg);
    dlg.showModal();
  });
}

// Yes/no: resolves true only when confirmed.
export function confirmDialog(message, { ok = 'Delete', danger = true } = {}) {
  return modal('Are you sure?', (close) => h('div', {},
    h('p', {}, message),
    h('div', { class: 'dialog-actions' },
      button('Cancel', () => close(false)),
      button(ok, () => close(true), { kind: danger ? 'danger btn-solid' : 'primary' })))).then((v) => v === true);
}

// A form in a dialog: fields (wrappers from field()), onSubmit(close) may
// throw an ApiError, shown in the dialog (the dialog stays open).
export function formDialog(title, fields, onSubmit, { submit = 'Save' } = {}) {
  return modal(title, (close) => {
    const err = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'form', novalidate: true }, fields,
      h('div', { class: 'form-actions' },
        h('button', { type: 'submit', class: 'btn btn-primary' }, submit),
        button('Cancel', () => close(undefined))),
      err);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clear(err);
      try {
        await onSubmit(close);
      } catch (ex) {
        err.append(errorBox(ex));
      }
    });
    return form;
  });
}

export function errorBox(e) {
  return h('div', { class: 'error-box', role: 'alert' }, e && e.message ? e.message : String(e));
}

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast toast-${kind}` }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

export function copyButton(text, label = 'Copy') {
  const b = button(label, async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      // no clipboard permission: select the text for a manual copy
      const code = b.parentElement && b.parentElement.querySelector('code');
      if (code) window.getSelection().selectAllChildren(code);
      b.textContent = 'Selected: press Ctrl+C';
    }
  }, { small: true });
  return b;
}

// spend_usd of budget_usd; no budget: just the spend.
export function spendBar(spend, budget) {
  const s = Number(spend || 0);
  if (budget === null || budget === undefined) return h('span', { class: 'muted' }, `$${s.toFixed(4)} (no budget)`);
  const b = Number(budget);
  const pct = b > 0 ? Math.min(100, (s / b) * 100) : 100;
  const fill = h('div', { class: `spend-fill${pct >= 100 ? ' over' : pct >= 80 ? ' high' : ''}` });
  fill.style.width = `${pct.toFixed(1)}%`;
  return h('div', { class: 'spend' },
    h('div', {
      class: 'spend-bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': b, 'aria-valuenow': s,
      'aria-label': `Spend $${s.toFixed(2)} of $${b.toFixed(2)}`,
    }, fill),
    h('span', {}, `$${s.toFixed(2)} / $${b.toFixed(2)}`));
}

export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}
