// Preloaded into the Portkey gateway by bench/compare (node --import). The
// gateway adds its x-portkey-* headers to the upstream's streamed Response,
// whose headers fetch() made immutable; under @hono/node-server's Response
// the wrapper keeps that same Headers object, so every stream failed with
// "TypeError: immutable" (Portkey-AI/gateway issues 1389 and 1550). Each
// fetch() answer is handed on with a mutable copy of its headers, the body
// untouched (a stream stays a stream).
const upstreamFetch = globalThis.fetch;
const NativeResponse = globalThis.Response;
globalThis.fetch = async (...args) => {
  const r = await upstreamFetch(...args);
  return new NativeResponse(r.body, {
    status: r.status,
    statusText: r.statusText,
    headers: new Headers(r.headers),
  });
};
