// pages/index.js - the page list: the nav, in this order. A page shows when
// the signed-in role may use the admin route named by `needs` ("METHOD
// pattern", as GET whoami's capabilities list it: the server's own route
// table decides, so the UI cannot show what the server would refuse).
// `roles` only documents who that is. `load` imports the page module, which
// exports render(root, ctx).
//
// A page module: `export async function render(root, ctx)`. root is an
// empty <section> in <main>; put an <h1 id="page-title"> first (the
// section is labelled by it). ctx (app.js): ctx.api (api.js: get, post,
// patch, del, listAll; errors are ApiError with .status and the API's
// message; a 401 signs out by itself), ctx.can(method, pattern) (whoami's
// capabilities: hide what the role may not do), ctx.who ({role, actor,
// team_id, team}), ctx.toast(message, kind), ctx.reload() (renders the
// page again). Build DOM with ui.js (h(), field(), table(), modal(),
// formDialog(), confirmDialog(), spendBar(), ...): never HTML from strings, no
// inline style attributes (the CSP refuses them; el.style is fine).
//
// The monitoring pages (usage, requests, health, audit, tasks) read
// usage/*, health, audit and tasks (shared helpers: monitor.js,
// chart.js, sse.js).
export const pages = [
  {
    id: 'providers', title: 'Providers', needs: 'GET providers', roles: ['admin', 'operator'],
    available: true, load: () => import('./providers.js'),
  },
  {
    id: 'models', title: 'Models & groups', needs: 'GET models', roles: ['admin', 'operator'],
    available: true, load: () => import('./models.js'),
  },
  {
    id: 'keys', title: 'Keys, teams & users', needs: 'GET keys', roles: ['admin', 'team_admin'],
    available: true, load: () => import('./keys.js'),
  },
  {
    id: 'usage', title: 'Usage', needs: 'GET usage/summary', roles: ['admin', 'team_admin', 'viewer'],
    available: true, load: () => import('./usage.js'),
  },
  {
    id: 'requests', title: 'Request log', needs: 'GET usage/requests', roles: ['admin', 'team_admin', 'viewer'],
    available: true, load: () => import('./requests.js'),
  },
  {
    id: 'health', title: 'Health', needs: 'GET health', roles: ['admin', 'operator', 'viewer'],
    available: true, load: () => import('./health.js'),
  },
  {
    id: 'audit', title: 'Audit log', needs: 'GET audit', roles: ['admin', 'viewer'],
    available: true, load: () => import('./audit.js'),
  },
  {
    id: 'tasks', title: 'Tasks', needs: 'GET tasks', roles: ['admin', 'operator', 'viewer'],
    available: true, load: () => import('./tasks.js'),
  },
];
