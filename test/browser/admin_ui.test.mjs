// The admin web UI (/admin) in Debian's headless chromium, driven by
// playwright-core (issue 20, "Admin web UI"): sign-in (a wrong key shows the
// API's error), a provider and a credential pointing at the mock and its
// connection test (latency and models shown), a failing test (bad base URL:
// the error text shown), a key created (secret shown once, copy button), a
// group member moved (the order survives a reload), an API error shown
// (a duplicate model), and operator, team_admin and viewer tokens that do
// not see what they may not do. Every browser console error, page error and CSP violation
// fails the test; axe-core checks every page; Tab reaches the nav and the
// main buttons with a visible focus ring. Screenshots of every page go to
// $LLMUX_SCREENSHOT_DIR (build-test/screenshots by default) and are listed
// at the end. The set-up and the checks are harness.mjs's (shared with
// monitoring.test.mjs).
//
// Run directly by node (not node --test): it exits 77 (skipped) when
// chromium is not installed, and only then.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  skipWithoutChromium, needsPg, startStack, stopStack, admin, newPage, clean, shot, axe, signIn, go, explained, waitFor,
} from './harness.mjs';

skipWithoutChromium('the admin UI browser tests are skipped ' +
  '(scripts/test installs Debian\'s chromium; it could not here)');

const ADMIN = 'browser-admin-key-0123456789abcdef';
const JWT_SECRET = 'a-browser-test-hs256-secret-of-32-bytes-or-more';
const ISS = 'https://idp.browser.test';
const AUD = 'llmux-browser';
let base, mockUrl;

function jwt(claims) {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const data = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ iss: ISS, aud: AUD, iat: now, exp: now + 600, ...claims })}`;
  return `${data}.${createHmac('sha256', JWT_SECRET).update(data).digest('base64url')}`;
}

before(async () => {
  ({ base, mockUrl } = await startStack({
    admin: ADMIN, dbPrefix: 'browser',
    env: {
      LLMUX_MASTER_KEY: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=', // base64 of 32 bytes
      LLMUX_JWT_HS256_SECRET: JWT_SECRET, LLMUX_JWT_ISSUER: ISS, LLMUX_JWT_AUDIENCE: AUD,
    },
  }));
});

after(stopStack);

const dialog = (page) => page.locator('dialog[open]');

test('the admin UI end to end', needsPg, async () => {
  const page = await newPage();
  await explained(page, () => endToEnd(page));
});

async function endToEnd(page) {

  // sign-in: a wrong key shows the API's message; the admin key signs in
  await page.goto(`${base}/admin`);
  await shot(page, '01-sign-in');
  await axe(page, 'sign-in');
  let done = page.expect(/status of 401/);
  await signIn(page, 'not-the-admin-key');
  await page.getByRole('alert').filter({ hasText: 'invalid admin key' }).waitFor();
  done();
  await page.getByLabel('Admin key or token').fill(ADMIN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Providers' }).waitFor();
  assert.deepEqual(await nav.getByRole('link').allTextContents(), ['Providers', 'Models & groups', 'Keys, teams & users',
    'Usage', 'Request log', 'Health', 'Audit log', 'Tasks']);
  await page.locator('#page-title', { hasText: 'Providers' }).waitFor();

  // keyboard: Tab from the top reaches the nav and the main buttons, with a
  // visible focus ring
  await page.reload();
  await page.getByRole('button', { name: 'Add provider' }).waitFor();
  const reached = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    reached.push(await page.evaluate(() => {
      const el = document.activeElement;
      const cs = getComputedStyle(el);
      return `${el.tagName}:${(el.textContent || '').trim()}:${cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0}`;
    }));
  }
  for (const want of ['A:Providers:true', 'A:Models & groups:true', 'BUTTON:Add provider:true', 'BUTTON:Sign out:true'])
    assert.ok(reached.includes(want), `Tab reaches ${want}: ${reached.join(' | ')}`);

  // a provider pointing at the mock, then a credential, then its test
  await page.getByRole('button', { name: 'Add provider' }).click();
  await dialog(page).getByLabel('Name').fill('mockp');
  await dialog(page).getByLabel('Kind').selectOption('openai_compatible');
  await dialog(page).getByLabel('Base URL').fill(`${mockUrl}/v1`);
  await shot(page, '02-provider-form');
  await axe(page, 'the provider form');
  await dialog(page).getByRole('button', { name: 'Add provider' }).click();
  await page.getByRole('cell', { name: 'mockp', exact: true }).first().waitFor();
  await page.getByRole('button', { name: 'Add credential' }).click();
  await dialog(page).getByLabel('Provider').selectOption({ label: 'mockp' });
  await dialog(page).getByLabel('Name').fill('mock-cred');
  await dialog(page).getByLabel('API key').fill('sk-browser-secret-123');
  await dialog(page).getByRole('button', { name: 'Add credential' }).click();
  await page.getByRole('cell', { name: 'mock-cred', exact: true }).waitFor();
  assert.equal(await page.getByText('sk-browser-secret-123').count(), 0, 'the secret is never shown');
  // a model of the provider: what the test calls and lists
  await admin('POST', 'models', { provider_id: (await admin('GET', 'providers?name=mockp')).data[0].id, upstream_name: 'mock-model+chunks=1', public_name: 'mocky',
    output_cost_per_1m: 1000000 }); // $1 an output token: a chat's spend shows
  await go(page, 'models');
  await go(page, 'providers');
  await page.getByRole('button', { name: 'Test connection mock-cred' }).click();
  const ok = page.locator('.test-result .ok-box');
  await ok.waitFor();
  const okText = await ok.textContent();
  assert.match(okText, /OK in \d+ ms/);
  assert.match(okText, /Models found \(6\): mock-model, gpt-4o-mini, gpt-4o, /);
  await shot(page, '03-providers-test-ok');

  // a provider whose base URL answers nothing: the error text is shown
  const bad = await admin('POST', 'providers', { name: 'deadp', kind: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1' });
  await admin('POST', 'connections', { provider_id: bad.id, name: 'dead-cred', api_key: 'sk-x' });
  await page.reload();
  await page.getByRole('button', { name: 'Test connection dead-cred' }).click();
  const err = page.locator('.test-result .error-box');
  await err.waitFor();
  const errText = await err.textContent();
  assert.match(errText, /Failed/);
  assert.ok(errText.length > 25, `an error text: ${errText}`);
  await shot(page, '04-providers-test-failed');
  await axe(page, 'providers');

  // a disabled provider, then enabled again
  await page.getByRole('button', { name: 'Disable provider deadp' }).click();
  await page.getByRole('button', { name: 'Enable provider deadp' }).waitFor();
  // delete with a confirmation; cancel keeps it
  await page.getByRole('button', { name: 'Delete credential dead-cred' }).click();
  await dialog(page).getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('cell', { name: 'dead-cred', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Delete credential dead-cred' }).click();
  await dialog(page).getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('cell', { name: 'dead-cred', exact: true }).waitFor({ state: 'detached' });

  // models: a duplicate model shows the API's message, in the dialog
  await go(page, 'models');
  await page.getByRole('button', { name: 'Add model' }).click();
  await dialog(page).getByLabel('Provider').selectOption({ label: 'mockp' });
  await dialog(page).getByLabel('Upstream model').fill('mock-model+chunks=1');
  await dialog(page).getByLabel('Public name (alias)').fill('mocky');
  done = page.expect(/status of 409/);
  await dialog(page).getByRole('button', { name: 'Add model' }).click();
  const dup = dialog(page).getByRole('alert');
  await dup.waitFor();
  assert.match(await dup.textContent(), /already|exists|duplicate/i);
  await shot(page, '05-models-duplicate-error');
  done();
  await dialog(page).getByRole('button', { name: 'Cancel' }).click();

  // a group: move a member and see the order survive a reload
  const mp = (await admin('GET', 'providers?name=mockp')).data[0].id;
  await admin('POST', 'groups', {
    name: 'team-chat', strategy: 'priority',
    members: [{ provider_id: mp, upstream_name: 'first-model', priority: 0 },
      { provider_id: mp, upstream_name: 'second-model', priority: 1, weight: 3 }],
  });
  await page.reload();
  const members = () => page.locator('[data-group="team-chat"] tbody tr td:nth-child(2)').allTextContents();
  await page.locator('[data-group="team-chat"] tbody tr').nth(1).waitFor();
  assert.deepEqual(await members(), ['mockp/first-model', 'mockp/second-model']);
  await page.getByRole('button', { name: 'Move mockp/second-model up' }).focus();
  await page.keyboard.press('Enter');
  await waitFor(async () => (await members())[0] === 'mockp/second-model', 'the member moved');
  await page.reload();
  await page.locator('[data-group="team-chat"] tbody tr').nth(1).waitFor();
  assert.deepEqual(await members(), ['mockp/second-model', 'mockp/first-model']);
  // and a member's weight edited
  await page.getByRole('button', { name: 'Edit member mockp/first-model' }).click();
  await dialog(page).getByLabel('Weight').fill('7');
  await dialog(page).getByRole('button', { name: 'Save' }).click();
  await page.locator('[data-group="team-chat"] tbody tr:nth-child(2) td:nth-child(4)', { hasText: '7' }).waitFor();
  const g = (await admin('GET', 'groups')).data.find((x) => x.name === 'team-chat');
  assert.deepEqual(g.members.map((m) => [m.upstream_name, m.weight]).sort(), [['first-model', 7], ['second-model', 3]]);
  await shot(page, '06-models-groups');
  await axe(page, 'models and groups');

  // keys: create one; the secret is shown once with a copy button
  await go(page, 'keys');
  await page.getByRole('button', { name: 'Create key' }).click();
  await dialog(page).getByLabel('Name').fill('browser-key');
  await dialog(page).getByLabel('Requests per minute (rpm)').fill('60');
  await dialog(page).getByLabel('Budget (USD)').fill('10');
  await dialog(page).getByLabel('Budget period').selectOption('daily');
  await dialog(page).getByRole('button', { name: 'Create key' }).click();
  const secret = await dialog(page).locator('code[data-secret]').textContent();
  assert.match(secret, /^lx-[0-9A-Za-z]{40}$/);
  await dialog(page).getByText('shown only once').waitFor();
  await dialog(page).getByRole('button', { name: 'Copy key' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await shot(page, '07-key-created');
  await dialog(page).getByRole('button', { name: 'Done' }).click();
  await page.getByRole('cell', { name: 'browser-key', exact: true }).waitFor();
  assert.equal(await page.getByText(secret).count(), 0, 'the secret is gone once the dialog closes');
  const row = page.locator('tr', { has: page.getByRole('cell', { name: 'browser-key', exact: true }) });
  assert.match(await row.textContent(), /rpm 60/);
  await row.getByRole('meter').waitFor();
  // its usage after a chat request: the spend bar moves
  await waitFor(async () => (await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mockp/mocky', messages: [{ role: 'user', content: 'hi' }] }),
  })).status === 200, 'a chat request with the new key');
  await waitFor(async () => {
    await page.reload();
    const label = await page.locator('tr', { has: page.getByRole('cell', { name: 'browser-key', exact: true }) }).getByRole('meter').getAttribute('aria-label');
    return !/Spend \$0\.00 of/.test(label);
  }, 'the spend shown');
  // disable, then delete with the confirmation
  await page.getByRole('button', { name: 'Disable key browser-key' }).click();
  await page.getByRole('button', { name: 'Enable key browser-key' }).waitFor();
  await page.getByRole('button', { name: 'Add team' }).click();
  await dialog(page).getByLabel('Name').fill('red');
  await dialog(page).getByLabel('Budget (USD)').fill('100');
  await dialog(page).getByRole('button', { name: 'Add team' }).click();
  await page.getByRole('cell', { name: 'red', exact: true }).waitFor();
  await shot(page, '08-keys-teams-users');
  await axe(page, 'keys, teams and users');
  await page.getByRole('button', { name: 'Delete key browser-key' }).click();
  await dialog(page).getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('cell', { name: 'browser-key', exact: true }).waitFor({ state: 'detached' });

  // sign out: back to the sign-in, the bearer gone from the tab
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin key or token').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  clean(page);
}

test('roles: an operator, a team admin and a viewer see only what they may do', needsPg, async () => {
  const page = await newPage();
  await explained(page, () => roles(page));
});

async function roles(page) {
  await signIn(page, jwt({ sub: 'olga', role: 'operator' }));
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Providers' }).waitFor();
  assert.deepEqual(await nav.getByRole('link').allTextContents(), ['Providers', 'Models & groups', 'Health', 'Tasks']);
  await page.getByRole('button', { name: 'Add provider' }).waitFor();
  await page.locator('#who', { hasText: 'jwt:olga (operator)' }).waitFor();
  await shot(page, '09-operator');
  await page.getByRole('button', { name: 'Sign out' }).click();

  // a team admin: its team's keys and users, no teams, no upstream side
  await admin('POST', 'teams', { name: 'blue' });
  const tok = jwt({ sub: 'tess', role: 'team_admin', team: 'blue' });
  await waitFor(async () => (await fetch(`${base}/api/v1/admin/ai/whoami`, { headers: { authorization: `Bearer ${tok}` } })).status === 200,
    'team blue in the snapshot');
  await signIn(page, tok);
  await page.locator('#who', { hasText: 'jwt:tess (team_admin, team blue)' }).waitFor();
  assert.deepEqual(await nav.getByRole('link').allTextContents(), ['Keys, teams & users', 'Usage', 'Request log']);
  await page.getByRole('button', { name: 'Create key' }).waitFor();
  await page.getByRole('button', { name: 'Add user' }).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Teams', exact: true }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Add team' }).count(), 0);
  await shot(page, '10-team-admin');
  await axe(page, 'the team admin');
  await page.getByRole('button', { name: 'Sign out' }).click();

  // a viewer may use none of these pages: no create/edit/delete anywhere
  await signIn(page, jwt({ sub: 'vera', role: 'viewer' }));
  await page.locator('#who', { hasText: 'jwt:vera (viewer)' }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Providers' }).count(), 0);
  assert.equal(await nav.getByRole('link', { name: 'Keys, teams & users' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: /Add|Create|Delete|Edit/ }).count(), 0);
  // every caller's tasks, through the admin API's tasks routes (a sign-in
  // token could not list them through /api/v1/tasks)
  await nav.getByRole('link', { name: 'Tasks' }).click();
  await page.getByText('No tasks match.').waitFor();
  // a page it may not use, asked for by URL, is not rendered either
  await page.evaluate(() => { location.hash = '#/keys'; });
  assert.equal(await page.getByRole('button', { name: 'Create key' }).count(), 0);
  await shot(page, '11-viewer');
  await axe(page, 'the viewer');
  clean(page);
}
