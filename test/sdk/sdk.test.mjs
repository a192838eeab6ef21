// The official clients, unmodified, against llmux + the mock upstream.
// Run by meson (node --test); LLMUX_BIN and LLMUX_MOCK_BIN name the binaries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { freePort, start, waitFor, stopAll } from './procs.mjs';

const KEY = 'sdk-test-admin-key-0123456789';
let base, mockUrl, openai, anthropic;

before(async () => {
  const mp = await freePort();
  const lp = await freePort();
  mockUrl = `http://127.0.0.1:${mp}`;
  base = `http://127.0.0.1:${lp}`;
  const mock = start(process.env.LLMUX_MOCK_BIN, ['--listen', `127.0.0.1:${mp}`, '--threads', '1'], {});
  await waitFor(() => mock.log.includes('"ready"'), 'mock');
  // an alias and a group, from the config file (no database here)
  const cfg = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-sdk-')), 'config.json');
  fs.writeFileSync(cfg, JSON.stringify({
    models: { 'sdk-chat': { provider: 'demo', model: 'mock-model' } },
    groups: { 'sdk-smart': { members: [{ provider: 'demo', model: 'mock-model' }] } },
  }));
  start(process.env.LLMUX_BIN, [], {
    LLMUX_CONFIG: cfg,
    LLMUX_LISTEN: `127.0.0.1:${lp}`, LLMUX_WORKERS: '2', LLMUX_ADMIN_KEY: KEY,
    LLMUX_DATABASE_URL: '', LLMUX_DEMO_BASE_URL: `${mockUrl}/v1`,
    ANTHROPIC_API_KEY: 'sk-ant-x', ANTHROPIC_BASE_URL: mockUrl,
    OPENAI_API_KEY: '', GEMINI_API_KEY: '', OPENROUTER_API_KEY: '',
  });
  await waitFor(async () => (await fetch(`${base}/healthz`)).ok, 'llmux');
  openai = new OpenAI({ apiKey: KEY, baseURL: `${base}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: KEY, baseURL: base, maxRetries: 0 });
});

after(stopAll);

const msgs = [{ role: 'user', content: 'hello' }];
const tools = [{ type: 'function', function: { name: 'get_weather', description: 'weather',
  parameters: { type: 'object', properties: { location: { type: 'string' } } } } }];

test('openai: chat completion', async () => {
  const r = await openai.chat.completions.create({ model: 'demo/mock-model+chunks=3', messages: msgs });
  assert.equal(r.choices[0].message.content, 'tok0 tok1 tok2 ');
  assert.equal(r.usage.completion_tokens, 3);
});

test('openai: streaming with usage', async () => {
  const stream = await openai.chat.completions.create({
    model: 'demo/mock-model+chunks=4', messages: msgs, stream: true,
    stream_options: { include_usage: true } });
  let text = ''; let usage = null;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'tok0 tok1 tok2 tok3 ');
  assert.equal(usage.completion_tokens, 4);
});

test('openai: tools, streamed, from an Anthropic upstream', async () => {
  const stream = openai.chat.completions.stream({ model: 'anthropic/claude-x', messages: msgs, tools });
  const final = await stream.finalChatCompletion();
  const call = final.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Paris', unit: 'celsius' });
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
});

test('openai: embeddings', async () => {
  const r = await openai.embeddings.create({ model: 'demo/mock-embed', input: ['a', 'b'] });
  assert.equal(r.data.length, 2);
  assert.equal(r.data[0].embedding.length, 8);
});

test('openai: models list', async () => {
  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  for (const id of ['demo/mock-model', 'mock-model', 'sdk-chat', 'sdk-smart'])
    assert.ok(ids.includes(id), `${id} not in ${ids.join(',')}`);
});

test('openai: models retrieve, ids with a slash, aliases and groups', async () => {
  for (const id of ['demo/mock-model', 'mock-model', 'sdk-chat', 'demo/sdk-chat', 'sdk-smart']) {
    const m = await openai.models.retrieve(id);
    assert.equal(m.id, id);
    assert.equal(m.object, 'model');
    assert.equal(typeof m.created, 'number');
    assert.equal(m.owned_by, id === 'sdk-smart' ? 'llmux' : 'demo');
  }
  await assert.rejects(openai.models.retrieve('demo/no-such-model'),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
});

test('openai: chat through an alias', async () => {
  const r = await openai.chat.completions.create({ model: 'sdk-chat', messages: msgs });
  assert.ok(r.choices[0].message.content.length > 0);
});

test('openai: typed errors', async () => {
  await assert.rejects(openai.chat.completions.create({ model: 'nope/x', messages: msgs }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  await assert.rejects(openai.chat.completions.create({ model: 'demo/m', messages: 'x' }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
  const bad = new OpenAI({ apiKey: 'wrong', baseURL: `${base}/v1`, maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: 'demo/m', messages: msgs }),
    (e) => e instanceof OpenAI.AuthenticationError);
  await assert.rejects(openai.chat.completions.create({ model: 'demo/m+fault=429', messages: msgs }),
    (e) => e instanceof OpenAI.RateLimitError && e.headers.get('retry-after') === '1');
});

test('openai: failure mid-stream raises APIError', async () => {
  const stream = await openai.chat.completions.create({
    model: 'demo/m+chunks=6+fault=drop+after=2', messages: msgs, stream: true });
  let got = 0;
  await assert.rejects(async () => { for await (const c of stream) got += c.choices.length; },
    (e) => e instanceof OpenAI.APIError);
  assert.ok(got >= 2);
});

test('anthropic: messages, pass-through and translated', async () => {
  for (const model of ['anthropic/claude-x+chunks=2', 'demo/mock-model+chunks=2']) {
    const r = await anthropic.messages.create({ model, max_tokens: 32, messages: msgs });
    assert.equal(r.type, 'message');
    assert.equal(r.content[0].text, 'tok0 tok1 ', model);
    assert.equal(r.stop_reason, 'end_turn');
    assert.equal(r.usage.output_tokens, 2);
  }
});

test('anthropic: streaming from an OpenAI-compatible upstream', async () => {
  const stream = anthropic.messages.stream({ model: 'demo/mock-model+chunks=3', max_tokens: 32, messages: msgs });
  let text = '';
  stream.on('text', (t) => { text += t; });
  const final = await stream.finalMessage();
  assert.equal(text, 'tok0 tok1 tok2 ');
  assert.equal(final.content[0].text, 'tok0 tok1 tok2 ');
  assert.equal(final.usage.output_tokens, 3);
});

test('anthropic: tool use through translation', async () => {
  const r = await anthropic.messages.create({ model: 'demo/mock-model', max_tokens: 64, messages: msgs,
    tools: [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object', properties: {} } }] });
  const tu = r.content.find((b) => b.type === 'tool_use');
  assert.equal(tu.name, 'get_weather');
  assert.deepEqual(tu.input, { location: 'Paris', unit: 'celsius' });
  assert.equal(r.stop_reason, 'tool_use');
});

test('anthropic: typed errors', async () => {
  const bad = new Anthropic({ apiKey: 'wrong', baseURL: base, maxRetries: 0 });
  await assert.rejects(bad.messages.create({ model: 'demo/m', max_tokens: 5, messages: msgs }),
    (e) => e instanceof Anthropic.AuthenticationError);
  await assert.rejects(anthropic.messages.create({ model: 'nope/m', max_tokens: 5, messages: msgs }),
    (e) => e instanceof Anthropic.NotFoundError);
  await assert.rejects(anthropic.messages.create({ model: 'anthropic/c+fault=429', max_tokens: 5, messages: msgs }),
    (e) => e instanceof Anthropic.RateLimitError);
});

test('anthropic: failure mid-stream raises APIError', async () => {
  const stream = anthropic.messages.stream({ model: 'anthropic/c+chunks=5+fault=error_event+after=2',
    max_tokens: 32, messages: msgs });
  await assert.rejects(stream.finalMessage(), (e) => e instanceof Anthropic.APIError);
});
