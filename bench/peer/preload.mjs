// Preloaded into the Portkey gateway by bench/compare (node --import).
//
// 1. Loopback only: the gateway listens on every interface (it has no host
//    option); a listen() without a host is bound to 127.0.0.1.
// 2. Streams: the gateway adds its x-portkey-* headers to the upstream's
//    streamed Response, whose headers fetch() made immutable; under
//    @hono/node-server's Response the wrapper keeps that same Headers object,
//    so every stream failed with "TypeError: immutable" (Portkey-AI/gateway
//    issues 1389 and 1550). Each streamed fetch() answer is handed on with a
//    mutable copy of its headers, the body untouched (a stream stays a
//    stream); other answers (the gateway copies those itself) as they are.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && (args.length === 1 || typeof args[1] !== "string")) {
    args.splice(1, 0, "127.0.0.1");
  } else if (args[0] && typeof args[0] === "object" && args[0].port !== undefined && !args[0].host) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};

const upstreamFetch = globalThis.fetch;
const NativeResponse = globalThis.Response;
globalThis.fetch = async (...args) => {
  const r = await upstreamFetch(...args);
  if (!(r.headers.get("content-type") || "").startsWith("text/event-stream")) return r;
  return new NativeResponse(r.body, {
    status: r.status,
    statusText: r.statusText,
    headers: new Headers(r.headers),
  });
};
