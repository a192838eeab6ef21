// api.js - the admin API from the browser. The bearer (the admin key or a
// JWT) lives in memory and in sessionStorage (gone when the tab closes),
// never in a cookie: the browser never attaches it on its own, so no other
// site can make a request with it (CSRF-safe by construction).
const STORE = 'llmux.admin.bearer';
export const BASE = '/api/v1/admin/ai/';

let bearer = null;
try { bearer = sessionStorage.getItem(STORE); } catch { bearer = null; }
let onAuthLost = () => {};

export function setBearer(b) {
  bearer = b || null;
  try {
    if (bearer) sessionStorage.setItem(STORE, bearer);
    else sessionStorage.removeItem(STORE);
  } catch { /* storage off: memory only */ }
}

export function hasBearer() { return bearer !== null; }

// fn(message) runs when the server answers 401 (the sign-in comes back).
export function whenAuthLost(fn) { onAuthLost = fn; }

// An error answer: status, the API's message (the OpenAI error shape's
// error.message), its type, code and param.
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    const e = (body && body.error) || {};
    this.type = e.type || null;
    this.code = e.code || null;
    this.param = e.param || null;
  }
}

// One call: path under /api/v1/admin/ai/ (or absolute when it starts with
// '/'), body sent as JSON. Resolves to the parsed answer (null for an empty
// one); rejects with ApiError. opts.quiet401: do not sign out on a 401.
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path.startsWith('/') ? path : BASE + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `llmux did not answer (${e.message})`, null);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const msg = (data && data.error && data.error.message) || `HTTP ${res.status}`;
    const err = new ApiError(res.status, msg, data);
    if (res.status === 401 && !opts.quiet401) onAuthLost(msg);
    throw err;
  }
  return data;
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b, o) => api('POST', p, b === undefined ? {} : b, o);
export const patch = (p, b, o) => api('PATCH', p, b, o);
export const del = (p, o) => api('DELETE', p, undefined, o);

// Every row of a paginated list (data/total/limit/offset), up to max.
export async function listAll(path, max = 2000) {
  const out = [];
  const sep = path.includes('?') ? '&' : '?';
  for (let offset = 0; out.length < max;) {
    const page = await get(`${path}${sep}limit=200&offset=${offset}`);
    const rows = (page && page.data) || [];
    out.push(...rows);
    offset += rows.length;
    if (rows.length === 0 || offset >= (page.total ?? 0)) break;
  }
  return out;
}
