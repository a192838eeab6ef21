// The official clients against a key whose budget is spent (issue 18):
// openai raises RateLimitError (429) with code budget_exceeded and type
// insufficient_quota, @anthropic-ai/sdk its RateLimitError. Needs a
// database (LLMUX_TEST_PG, set by scripts/test): keys and budgets live there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { freePort, start, waitFor, stopAll } from './procs.mjs';

const ADMIN = 'sdk-budget-admin-key-0123456789';
let base;

async function admin(method, path, body) {
  const r = await fetch(`${base}/api/v1/admin/ai${path}`, {
    method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const j = await r.json();
  assert.ok(r.status < 300, JSON.stringify(j));
  return j;
}

const pg = process.env.LLMUX_TEST_PG;

before(async () => {
  if (!pg) return;
  const db = `sdk_${process.pid}_${Date.now()}`;
  execFileSync('psql', [pg, '-Atq', '-c', `CREATE DATABASE ${db}`]);
  const mp = await freePort();
  const lp = await freePort();
  base = `http://127.0.0.1:${lp}`;
  const mock = start(process.env.LLMUX_MOCK_BIN, ['--listen', `127.0.0.1:${mp}`, '--threads', '1'], {});
  await waitFor(() => mock.log.includes('"ready"'), 'mock');
  start(process.env.LLMUX_BIN, [], {
    LLMUX_CONFIG: '', LLMUX_LISTEN: `127.0.0.1:${lp}`, LLMUX_WORKERS: '1', LLMUX_ADMIN_KEY: ADMIN,
    LLMUX_DATABASE_URL: pg.replace('dbname=llmux', `dbname=${db}`),
    LLMUX_DEMO_BASE_URL: `http://127.0.0.1:${mp}/v1`,
    ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '', GEMINI_API_KEY: '', OPENROUTER_API_KEY: '',
  });
  await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, 'llmux');
});

after(stopAll);

test('a spent budget: the SDKs raise their RateLimitError', { skip: !pg && 'LLMUX_TEST_PG not set' }, async () => {
  const provs = await admin('GET', '/providers?name=demo');
  await admin('POST', '/models', {
    provider_id: provs.data[0].id, upstream_name: 'mock-model+chunks=1', public_name: 'priced',
    input_cost_per_1m: 0, output_cost_per_1m: 1000000, capabilities: ['chat', 'stream'],
  });
  const k = await admin('POST', '/keys', { name: 'sdk-budget', budget_usd: 1, budget_period: 'daily' });
  const openai = new OpenAI({ apiKey: k.key, baseURL: `${base}/v1`, maxRetries: 0 });
  const anthropic = new Anthropic({ apiKey: k.key, baseURL: base, maxRetries: 0 });
  const msgs = [{ role: 'user', content: 'hi' }];
  // the first request spends the budget ($1), once the key is loaded
  await waitFor(async () => {
    await openai.chat.completions.create({ model: 'demo/priced', messages: msgs });
    return true;
  }, 'served once');
  await assert.rejects(openai.chat.completions.create({ model: 'demo/priced', messages: msgs }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && e.code === 'budget_exceeded' &&
      e.type === 'insufficient_quota' && Number(e.headers.get('retry-after')) >= 1);
  await assert.rejects(anthropic.messages.create({ model: 'demo/priced', max_tokens: 5, messages: msgs }),
    (e) => e instanceof Anthropic.RateLimitError && e.status === 429 &&
      /budget exceeded/.test(e.message));
});
