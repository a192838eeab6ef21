// app.js - boot: sign-in, the nav (pages the role may use), the hash
// router (#/<page id>), sign-out.
import * as api from './api.js';
import { pages } from './pages/index.js';
import { h, clear, button, errorBox, toast } from './ui.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const whoEl = document.getElementById('who');
const signoutBtn = document.getElementById('signout');

let who = null; // GET whoami: {role, actor, team_id, team, capabilities}
let caps = new Set();

// Whether the signed-in role may use an admin route: can('POST', 'keys').
export function can(method, pattern) { return caps.has(`${method} ${pattern}`); }

function visiblePages() {
  return pages.filter((p) => p.available && caps.has(p.needs));
}

function signIn(message) {
  api.setBearer(null);
  who = null;
  caps = new Set();
  nav.hidden = true;
  signoutBtn.hidden = true;
  clear(whoEl);
  const input = h('input', {
    id: 'signin-key', name: 'bearer', type: 'password', required: true, autocomplete: 'current-password',
    'aria-describedby': 'signin-help',
  });
  const err = h('div', { 'aria-live': 'polite' }, message ? errorBox(message) : null);
  const form = h('form', { class: 'panel', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'signin-key' }, 'Admin key or token'),
      input,
      h('span', { class: 'help', id: 'signin-help' },
        'The LLMUX_ADMIN_KEY, or a JWT with a role. It stays in this tab only (sessionStorage).')),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in'),
    err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(err);
    const key = input.value.trim();
    if (!key) {
      err.append(errorBox('Enter the admin key or a token.'));
      return;
    }
    api.setBearer(key);
    try {
      await loadWho();
    } catch (ex) {
      api.setBearer(null);
      err.append(errorBox(ex));
      input.focus();
      return;
    }
    input.value = '';
    start(true);
  });
  clear(main).append(h('section', { class: 'signin' }, h('h1', {}, 'Sign in to llmux'), form));
  document.title = 'Sign in - llmux admin';
  input.focus();
}

async function loadWho() {
  who = await api.get('whoami', { quiet401: true });
  caps = new Set(who.capabilities || []);
}

function buildNav() {
  const list = h('ul', {}, visiblePages().map((p) =>
    h('li', {}, h('a', { href: `#/${p.id}`, 'data-page': p.id }, p.title))));
  clear(nav).append(list);
  nav.hidden = false;
  clear(whoEl).append(`${who.actor} (${who.role}${who.team ? `, team ${who.team}` : ''})`);
  signoutBtn.hidden = false;
}

let renderSeq = 0;
async function route() {
  if (!who) return;
  const list = visiblePages();
  const id = (location.hash.match(/^#\/([\w-]+)/) || [])[1];
  const page = list.find((p) => p.id === id);
  if (!page) {
    if (list.length) location.replace(`#/${list[0].id}`);
    else clear(main).append(h('h1', {}, 'Nothing to show'), h('p', {}, `Role '${who.role}' may use no page here.`));
    return;
  }
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === page.id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${page.title} - llmux admin`;
  const mine = ++renderSeq;
  const root = h('section', { 'aria-labelledby': 'page-title' });
  clear(main).append(root);
  try {
    const mod = await page.load();
    if (mine !== renderSeq) return;
    await mod.render(root, ctx);
  } catch (e) {
    if (mine !== renderSeq || e.status === 401) return;
    clear(root).append(h('h1', { id: 'page-title' }, page.title), errorBox(e),
      button('Retry', () => route()));
  }
}

// What every page gets.
const ctx = {
  api,
  can,
  get who() { return who; },
  toast,
  reload: () => route(),
};

// focus: after a sign-in, the page (keyboard users land in it); on a
// reload, nothing (Tab starts at the top: header, nav, page)
function start(focus) {
  buildNav();
  if (!location.hash) location.replace(`#/${(visiblePages()[0] || { id: '' }).id}`);
  route();
  if (focus) main.focus();
}

signoutBtn.addEventListener('click', () => {
  api.setBearer(null);
  history.replaceState(null, '', location.pathname);
  signIn();
});
api.whenAuthLost((msg) => signIn(`Signed out: ${msg}`));
window.addEventListener('hashchange', () => route());

async function boot() {
  if (!api.hasBearer()) {
    signIn();
    return;
  }
  try {
    await loadWho();
  } catch (e) {
    signIn(e.status === 401 ? null : e.message);
    return;
  }
  start(false);
}

boot();
