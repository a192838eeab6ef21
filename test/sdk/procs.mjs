// Processes for the node tests (test/sdk): llmux and the mock started on
// free loopback ports, waited for, and stopped with their exit code and
// sanitizer output checked.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';

const procs = [];

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export function start(bin, args, env) {
  const p = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  p.log = '';
  p.stdout.on('data', (d) => { p.log += d; });
  p.stderr.on('data', (d) => { p.log += d; });
  procs.push(p);
  return p;
}

export async function waitFor(fn, what, tries = 400) {
  for (let i = 0; i < tries; i++) {
    try { if (await fn()) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Stops every process started, newest first: each must exit 0 without a
// sanitizer report.
export async function stopAll() {
  for (const p of procs.reverse()) {
    const done = p.exitCode !== null ? Promise.resolve(p.exitCode)
      : new Promise((r) => p.on('exit', (code) => r(code)));
    p.kill('SIGTERM');
    const code = await done;
    assert.equal(code, 0, `process exited ${code}\n${p.log.slice(-2000)}`);
    assert.ok(!/AddressSanitizer|ThreadSanitizer|runtime error:/.test(p.log), p.log.slice(-4000));
  }
  procs.length = 0;
}
