// The official openai client's `videos` resource, unmodified, against llmux
// and the mock's OpenAI videos API (issue 19): create (the SDK sends a
// multipart form), retrieve until completed, downloadContent (the mock's
// MP4 bytes), list, delete. Needs a database (LLMUX_TEST_PG, set by
// scripts/test): tasks live there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import OpenAI from 'openai';
import { freePort, start, waitFor, stopAll } from './procs.mjs';

const ADMIN = 'sdk-videos-admin-key-0123456789';
const pg = process.env.LLMUX_TEST_PG;
let base, mockUrl;

before(async () => {
  if (!pg) return;
  const db = `sdkv_${process.pid}_${Date.now()}`;
  execFileSync('psql', [pg, '-Atq', '-c', `CREATE DATABASE ${db}`]);
  const mp = await freePort();
  const lp = await freePort();
  mockUrl = `http://127.0.0.1:${mp}`;
  base = `http://127.0.0.1:${lp}`;
  const mock = start(process.env.LLMUX_MOCK_BIN, ['--listen', `127.0.0.1:${mp}`, '--threads', '1'], {});
  await waitFor(() => mock.log.includes('"ready"'), 'mock');
  start(process.env.LLMUX_BIN, [], {
    LLMUX_CONFIG: '', LLMUX_LISTEN: `127.0.0.1:${lp}`, LLMUX_WORKERS: '1', LLMUX_ADMIN_KEY: ADMIN,
    LLMUX_DATABASE_URL: pg.replace('dbname=llmux', `dbname=${db}`),
    LLMUX_DEMO_BASE_URL: `${mockUrl}/v1`,
    LLMUX_TASK_POLL_MIN_MS: '50', LLMUX_TASK_POLL_MAX_MS: '200', LLMUX_TASK_CLAIM_MS: '100',
    ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '', GEMINI_API_KEY: '', OPENROUTER_API_KEY: '',
  });
  await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, 'llmux');
});

after(stopAll);

test('openai videos: create, retrieve, downloadContent, list, delete', { skip: !pg && 'LLMUX_TEST_PG not set' }, async () => {
  const client = new OpenAI({ apiKey: ADMIN, baseURL: `${base}/v1`, maxRetries: 0 });
  const prompt = `sdk-video-${process.pid}-${Date.now()}`;
  const created = await client.videos.create({
    model: 'demo/sora-2+duration_ms=300', prompt, seconds: '4', size: '1280x720',
  });
  assert.equal(created.object, 'video');
  assert.equal(created.prompt, prompt);
  assert.equal(created.seconds, '4');
  assert.equal(created.size, '1280x720');
  assert.ok(['queued', 'in_progress'].includes(created.status), created.status);

  let video;
  const deadline = Date.now() + 20000;
  for (;;) {
    video = await client.videos.retrieve(created.id);
    if (video.status === 'completed' || video.status === 'failed') break;
    assert.ok(Date.now() < deadline, `still ${video.status} after 20 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(video.status, 'completed', JSON.stringify(video));
  assert.equal(video.progress, 100);
  assert.equal(video.id, created.id);

  // the bytes are the mock job's MP4
  const jobs = await (await fetch(`${mockUrl}/_mock/jobs?tag=${encodeURIComponent(prompt)}`)).json();
  assert.equal(jobs.submissions, 1, JSON.stringify(jobs));
  const want = Buffer.from(await (await fetch(`${mockUrl}/_mock/files/${jobs.jobs[0].id}.mp4`)).arrayBuffer());
  const res = await client.videos.downloadContent(created.id);
  const got = Buffer.from(await res.arrayBuffer());
  assert.equal(got.length, 32);
  assert.equal(got.subarray(4, 8).toString('latin1'), 'ftyp');
  assert.deepEqual(got, want);

  const ids = [];
  for await (const v of client.videos.list({ limit: 10 })) ids.push(v.id);
  assert.ok(ids.includes(created.id), JSON.stringify(ids));

  const del = await client.videos.delete(created.id);
  assert.deepEqual(del, { id: created.id, object: 'video.deleted', deleted: true });

  await assert.rejects(client.videos.create({ model: 'demo/sora-2', prompt: '' }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /prompt/.test(e.message));
  await assert.rejects(client.videos.retrieve('task_0000'),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
});
