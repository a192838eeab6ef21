// sse.js - reads a text/event-stream through fetch (EventSource cannot send
// the Authorization header), calling onEvent(event, data) per event until
// the stream ends or signal aborts. Resolves when it ends; rejects with an
// Error carrying .status on an HTTP error.
import { authHeaders } from './api.js';

export async function readEvents(path, onEvent, signal) {
  const res = await fetch(path, {
    headers: { Accept: 'text/event-stream', ...authHeaders() }, credentials: 'omit', cache: 'no-store', signal,
  });
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { msg = (await res.json()).error.message || msg; } catch { /* not JSON */ }
    const e = new Error(msg);
    e.status = res.status;
    throw e;
  }
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true }).replace(/\r\n/g, '\n');
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(event, data.join('\n'));
    }
  }
}
