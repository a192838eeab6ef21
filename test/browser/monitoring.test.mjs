// The admin UI's monitoring pages in Debian's headless chromium (issue 20):
// a key's chat request (retried on a failing credential, then a fallback)
// shows on the usage page (totals, charts) and as the key's spend on the
// keys page; the request log lists it and its detail shows the three
// attempts with the fallback reason; the health page lists the
// deployments with the failing one's error; the audit log shows the key's
// creation; the tasks page follows a test.job task's progress to its end
// (SSE read through fetch with the bearer). The chart redraws a day of
// per-minute points x 5 series in under 50 ms and answers the keyboard.
// Every console error, page error and CSP violation fails; axe-core checks
// each page; screenshots go to $LLMUX_SCREENSHOT_DIR (build-test/screenshots).
// The set-up and the checks are harness.mjs's (shared with admin_ui.test.mjs).
//
// Run directly by node: exits 77 (skipped) only when chromium is missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  skipWithoutChromium, needsPg, startStack, stopStack, call, admin, newPage, clean, shot, axe, signIn, go, explained, waitFor,
} from './harness.mjs';

skipWithoutChromium('the monitoring pages\' browser tests are skipped');

const ADMIN = 'browser-monitor-admin-key-0123456789';
let base, mockUrl;

before(async () => {
  ({ base, mockUrl } = await startStack({
    admin: ADMIN, dbPrefix: 'browser_mon',
    // the test.job executor's fake provider (src/task/testexec.c)
    dbSql: 'CREATE TABLE llmux_test_jobs (id BIGSERIAL PRIMARY KEY, '
      + 'idem TEXT UNIQUE, task TEXT, polls INT NOT NULL DEFAULT 0, polls_needed INT NOT NULL, fail TEXT, '
      + 'cancelled BOOLEAN NOT NULL DEFAULT false, submits INT NOT NULL DEFAULT 1)',
    env: {
      LLMUX_TEST_TASKS: '1', LLMUX_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      LLMUX_TASK_POLL_MIN_MS: '150', LLMUX_TASK_POLL_MAX_MS: '150', LLMUX_TASK_CLAIM_MS: '100',
    },
  }));
});

after(stopStack);

test('the monitoring pages end to end', needsPg, async () => {
  // a provider whose first credential fails with 503 (retried, then the
  // second one), a priced model, a key, one chat request with that key
  const prov = await admin('POST', 'providers', { name: 'mon', kind: 'openai_compatible', base_url: `${mockUrl}/v1`, status: 'disabled' });
  await admin('POST', 'connections', { provider_id: prov.id, name: 'c0', api_key: 'sk-mon-a+fault=503', priority: 0 });
  await admin('POST', 'connections', { provider_id: prov.id, name: 'c1', api_key: 'sk-mon-b', priority: 1 });
  await admin('POST', 'models', { provider_id: prov.id, upstream_name: 'm', input_cost_per_1m: 100000, output_cost_per_1m: 100000 });
  await admin('PATCH', `providers/${prov.id}`, { status: 'active' });
  const key = await admin('POST', 'keys', { name: 'monitored-key' });
  let chat;
  await waitFor(async () => {
    chat = await call('POST', `${base}/v1/chat/completions`, { model: 'mon/m', messages: [{ role: 'user', content: 'hello there' }] }, key.key);
    return chat.status === 200;
  }, 'the key and the provider loaded');
  assert.equal(chat.headers.get('x-llmux-attempts'), '3');
  const rid = chat.headers.get('x-request-id');
  await waitFor(async () => (await call('GET', `${base}/api/v1/admin/ai/usage/requests/${rid}`)).status === 200, 'the usage row');

  const page = await newPage();
  await explained(page, async () => {
    await signIn(page, ADMIN);
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const t of ['Usage', 'Request log', 'Health', 'Audit log', 'Tasks']) await nav.getByRole('link', { name: t }).waitFor();

    // usage: totals, six charts, a chart's summary for screen readers
    await go(page, 'usage');
    await page.locator('.total', { hasText: 'Requests' }).locator('.total-v', { hasText: /^[1-9]/ }).waitFor();
    assert.equal(await page.locator('canvas.chart-canvas').count(), 6);
    const label = await page.locator('canvas.chart-canvas').first().getAttribute('aria-label');
    assert.match(label, /^Requests from .*points\. all: min 0, max [1-9]/);
    await page.locator('table.data', { hasText: 'mon' }).waitFor();
    // keyboard: focus the first chart, move the cursor, the tooltip shows
    await page.locator('canvas.chart-canvas').first().focus();
    await page.keyboard.press('End');
    await page.locator('.chart-tip:visible').first().waitFor();
    await page.getByRole('button', { name: '1h' }).click();
    await page.getByLabel('Split by').selectOption('model');
    await page.locator('.chart-legend li', { hasText: 'mon/m' }).first().waitFor();
    await shot(page, 'u2-01-usage');
    await axe(page, 'usage');

    // the chart: a day of minutes x 5 series redrawn in well under 50 ms
    const ms = await page.evaluate(async () => {
      const { lineChart } = await import('/admin/js/chart.js');
      const c = lineChart({ title: 'bench', unit: 'ms' });
      document.getElementById('main').append(c.el);
      const t0 = Date.UTC(2026, 0, 1);
      const times = Array.from({ length: 1440 }, (_, i) => t0 + i * 60000);
      const series = Array.from({ length: 5 }, (_, s) => ({ name: `s${s}`, values: times.map((_, i) => 100 + s * 20 + 50 * Math.sin(i / 60 + s)) }));
      c.update({ times, series });
      const runs = [];
      for (let i = 0; i < 10; i++) { c.redraw(); runs.push(c.lastDrawMs); }
      c.el.remove();
      runs.sort((a, b) => a - b);
      return runs[5];
    });
    console.log(`chart: 1,440 points x 5 series redrawn in ${ms.toFixed(2)} ms (median of 10)`);
    assert.ok(ms < 50, `redraw took ${ms} ms`);

    // the keys page shows the key's spend from that request (no budget: the
    // figure itself; spend reaches the database within a few seconds)
    await go(page, 'keys');
    const keyRow = () => page.locator('tr', { has: page.getByRole('cell', { name: 'monitored-key', exact: true }) });
    await keyRow().waitFor();
    await waitFor(async () => {
      await page.reload();
      await keyRow().waitFor();
      return /\$[1-9]/.test(await keyRow().innerText());
    }, 'the key\'s spend on the keys page', 300);
    await shot(page, 'u2-02-keys-spend');

    // the request log and the request's detail: three attempts, the fallback
    await go(page, 'requests');
    await page.getByRole('button', { name: `Details of ${rid}` }).click();
    const det = page.locator('section.panel', { hasText: `Request ${rid}` });
    await det.getByRole('heading', { name: 'Attempts (3)' }).waitFor();
    const text = await det.innerText();
    assert.match(text, /HTTP 503 from mon/);
    assert.match(text, /mon\/m \(credential c1\)/);
    const rows = det.locator('table.data tbody tr');
    assert.equal(await rows.count(), 3);
    assert.match(await rows.nth(1).innerText(), /retry/);
    assert.match(await rows.nth(2).innerText(), /fallback/);
    await shot(page, 'u2-03-request-detail');
    await axe(page, 'request log');

    // health: each deployment, the failing credential's error
    await go(page, 'health');
    const c0 = page.locator('tr', { hasText: 'c0 (' });
    await c0.waitFor();
    assert.match(await c0.innerText(), /upstream unavailable/);
    assert.match(await page.locator('tr', { hasText: 'c1 (' }).innerText(), /\bok\b/);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await shot(page, 'u2-04-health');
    await axe(page, 'health');

    // audit: the key's creation
    await go(page, 'audit');
    await page.getByLabel('Resource').selectOption('keys');
    await page.getByRole('button', { name: 'Filter' }).click();
    const kr = page.locator('tbody tr', { hasText: 'create' }).first();
    await kr.waitFor();
    await kr.getByRole('button', { name: /Show before and after/ }).click();
    await page.locator('pre.json', { hasText: 'monitored-key' }).waitFor();
    await shot(page, 'u2-05-audit');
    await axe(page, 'audit');

    // tasks: a task listed, its progress followed live to the end (20
    // polls 150 ms apart: about 3 s of progress events)
    const task = await call('POST', `${base}/api/v1/tasks`, { type: 'test.job', input: { polls: 20 } });
    assert.equal(task.status, 202, JSON.stringify(task.json));
    await go(page, 'tasks');
    await page.getByRole('button', { name: `Follow task ${task.json.id}` }).click();
    const follow = page.locator('section.panel', { hasText: `Task ${task.json.id}` });
    await follow.locator('li', { hasText: /progress: running progress [1-9]/ }).first().waitFor({ timeout: 15000 });
    await shot(page, 'u2-06-task-progress');
    await follow.locator('li', { hasText: 'succeeded' }).first().waitFor({ timeout: 20000 });
    await page.locator('tbody tr', { hasText: task.json.id }).locator('.badge', { hasText: 'succeeded' }).waitFor();
    await shot(page, 'u2-07-tasks');
    await axe(page, 'tasks');
  }, 'monitoring-failure');
  clean(page);
});
