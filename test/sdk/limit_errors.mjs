// The official clients meet a key over its limit (issue 18): the OpenAI
// client raises RateLimitError (429, code rate_limit_exceeded) and the
// Anthropic client its RateLimitError on /v1/messages. Run by
// test/integration/test_key_governance.py with LLMUX_BASE and LLMUX_KEY (a
// key whose limit is spent); exits 0 when both hold.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const base = process.env.LLMUX_BASE;
const key = process.env.LLMUX_KEY;
const msgs = [{ role: 'user', content: 'hi' }];

const openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 });
await assert.rejects(openai.chat.completions.create({ model: 'demo/mock-model', messages: msgs }),
  (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, `not a RateLimitError: ${e}`);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.equal(e.type, 'rate_limit_error');
    assert.ok(Number(e.headers.get('retry-after')) >= 1);
    assert.ok(e.headers.get('x-ratelimit-limit-requests'));
    return true;
  });

const anthropic = new Anthropic({ apiKey: key, baseURL: base, maxRetries: 0 });
await assert.rejects(anthropic.messages.create({ model: 'demo/mock-model', max_tokens: 8, messages: msgs }),
  (e) => {
    assert.ok(e instanceof Anthropic.RateLimitError, `not a RateLimitError: ${e}`);
    assert.equal(e.status, 429);
    assert.equal(e.error?.error?.type, 'rate_limit_error');
    return true;
  });
console.log('ok: RateLimitError from both clients');
