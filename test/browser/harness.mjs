// What the browser tests (admin_ui.test.mjs, monitoring.test.mjs) share:
// the chromium presence check (exit 77, skipped, only when it is missing),
// the stack (the mock and llmux on free loopback ports with a fresh
// database, and headless chromium), pages whose console errors, page errors
// and CSP violations are collected, the checks (clean(), axe()), the
// screenshots ($LLMUX_SCREENSHOT_DIR, build-test/screenshots by default,
// listed at the end by stopStack()), sign-in and navigation, the admin API.
//
// A test calls skipWithoutChromium() first, then startStack() in its
// before() hook and stopStack() in its after() hook. playwright-core and
// axe-core are loaded only once chromium is known to be there.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { freePort, start, waitFor, stopAll } from '../sdk/procs.mjs';

export { waitFor };

export const CHROMIUM = process.env.LLMUX_CHROMIUM || '/usr/bin/chromium';
export const pg = process.env.LLMUX_TEST_PG;
// the options of a test that needs the test Postgres
export const needsPg = { skip: !pg && 'LLMUX_TEST_PG not set' };
// next to the build tree the binary comes from: build-test/screenshots
export const SHOTS = process.env.LLMUX_SCREENSHOT_DIR ||
  path.resolve(path.dirname(process.env.LLMUX_BIN || 'build-test/src/llmux'), '..', 'screenshots');

const shots = [];
let base, adminKey, browser, AXE;

// Exits 77 (skipped), saying "chromium not found at <path>: <what>", when
// chromium is not installed.
export function skipWithoutChromium(what) {
  if (fs.existsSync(CHROMIUM)) return;
  console.log(`chromium not found at ${CHROMIUM}: ${what}`);
  process.exit(77);
}

// The mock and llmux on free loopback ports, llmux on a fresh database
// named <dbPrefix>_<pid>_<ms> (dbSql run in it first, if given) with
// admin as its admin key and env added to (or overriding) the common
// environment, then chromium. Without LLMUX_TEST_PG: nothing (the tests
// skip), {}.
export async function startStack({ admin, dbPrefix, env = {}, dbSql }) {
  if (!pg) return {};
  fs.mkdirSync(SHOTS, { recursive: true });
  const db = `${dbPrefix}_${process.pid}_${Date.now()}`;
  execFileSync('psql', [pg, '-Atq', '-c', `CREATE DATABASE ${db}`]);
  const dbUrl = pg.replace('dbname=llmux', `dbname=${db}`);
  if (dbSql) execFileSync('psql', [dbUrl, '-Atq', '-c', dbSql]);
  const mp = await freePort();
  const lp = await freePort();
  adminKey = admin;
  base = `http://127.0.0.1:${lp}`;
  const mockUrl = `http://127.0.0.1:${mp}`;
  const mock = start(process.env.LLMUX_MOCK_BIN, ['--listen', `127.0.0.1:${mp}`, '--threads', '1'], {});
  await waitFor(() => mock.log.includes('"ready"'), 'mock');
  start(process.env.LLMUX_BIN, [], {
    LLMUX_CONFIG: '', LLMUX_LISTEN: `127.0.0.1:${lp}`, LLMUX_WORKERS: '2', LLMUX_ADMIN_KEY: admin,
    LLMUX_DATABASE_URL: dbUrl,
    ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '', GEMINI_API_KEY: '', OPENROUTER_API_KEY: '',
    LLMUX_DEMO_BASE_URL: '',
    ...env,
  });
  await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, 'llmux');
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  return { base, mockUrl, dbUrl };
}

// The browser closed, the processes stopped (each must exit 0 without a
// sanitizer report), the screenshots taken listed.
export async function stopStack() {
  if (browser) await browser.close();
  await stopAll();
  if (shots.length) console.log(`screenshots (${SHOTS}):\n${shots.map((s) => `  ${s}`).join('\n')}`);
}

// A request to url with the bearer key (the admin key by default): its
// status, its body (JSON, or the text when it is not) and its headers.
export async function call(method, url, body, key = adminKey) {
  const r = await fetch(url, {
    method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let j = null;
  try { j = JSON.parse(text); } catch { j = text; }
  return { status: r.status, json: j, headers: r.headers };
}

// The admin API (/api/v1/admin/ai/<p>) with the admin key: the answer's
// body, which must be a success.
export async function admin(method, p, body) {
  const r = await call(method, `${base}/api/v1/admin/ai/${p}`, body);
  assert.ok(r.status < 300, `${method} ${p}: ${JSON.stringify(r.json)}`);
  return r.json;
}

// A page whose console errors, page errors and CSP violations are
// collected; expect(re) allows console errors matching re (an expected
// 4xx the browser logs as "Failed to load resource") until the returned
// function is called. A CSP violation is never allowed.
export async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await ctx.newPage();
  page.problems = [];
  page.allowed = [];
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (!/CSP violation|Content Security Policy/.test(text) && page.allowed.some((re) => re.test(text))) return;
    page.problems.push(`console: ${text}`);
  });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.expect = (re) => { page.allowed.push(re); return () => { page.allowed = page.allowed.filter((r) => r !== re); }; };
  return page;
}

// No console error, page error or CSP violation so far.
export function clean(page) {
  assert.deepEqual(page.problems, [], 'browser console or page errors');
}

// A full-page screenshot <SHOTS>/<name>.png, listed at the end.
export async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

// axe-core finds no violation on the page, and its label, color-contrast,
// button-name and link-name rules ran.
export async function axe(page, what) {
  if (!AXE) AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(AXE);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const v = r.violations.map((x) => `${x.id} (${x.impact}): ${x.help} -> ${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  assert.deepEqual(v, [], `axe violations on ${what}`);
  const ran = new Set([...r.passes, ...r.inapplicable, ...r.incomplete].map((x) => x.id));
  for (const rule of ['label', 'color-contrast', 'button-name', 'link-name']) assert.ok(ran.has(rule), `axe rule ${rule} ran`);
}

// The sign-in page, key typed in, "Sign in" pressed.
export async function signIn(page, key) {
  await page.goto(`${base}/admin`);
  await page.getByLabel('Admin key or token').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// The page #/<id>, once its title is there.
export async function go(page, id) {
  await page.evaluate((h) => { location.hash = h; }, `#/${id}`);
  await page.locator('#page-title').waitFor();
}

// fn(); on a failure, a screenshot <SHOTS>/<name>.png and the page's text
// and problems added to the error, to see why.
export async function explained(page, fn, name = 'failure') {
  try {
    await fn();
  } catch (e) {
    const file = path.join(SHOTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    const text = await page.locator('body').innerText().catch(() => '');
    e.message += `\npage (${file}):\n${text.slice(0, 3000)}\nproblems: ${page.problems.join('\n')}`;
    throw e;
  }
}
