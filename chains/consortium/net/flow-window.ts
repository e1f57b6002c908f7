/**
 * HTTP/2 flow-control windows of the peer server. Gossip streams run from the sender (gRPC
 * client) to the receiver (gRPC server), so the receiver's windows pace them: at HTTP/2's
 * default 64 KiB, a 400 KB batch of txs needs several WINDOW_UPDATEs, each sent only when
 * the receiver's event loop gets to read — under load, one turn per 64 KiB, hundreds of ms
 * per batch. The connection window is also shared by the consensus and bulk lanes, so bulk
 * gossip held votes and proposals back. Measured (4 validators, 600 tx/s offered, 2 cores):
 * commit p99 2.0-2.4 s with windows of one message against 3.0-7.0 s at the default.
 *
 * grpc-js 1.14 has no server option for these (its client has `grpc-node.flow_control_window`),
 * so this sets the HTTP/2 settings grpc-js passes to `http2.createServer` and raises each
 * session's connection window. Both reach into grpc-js fields, checked here: if a grpc-js
 * upgrade moves them, the functions return false (the node logs it and runs at the default
 * windows, slower but correct) and `test/unit/consortium/flow-window.test.ts` fails.
 * Memory: a peer can make this node buffer up to the windows per connection, the same order
 * as the message size cap it can already send.
 */
import type * as http2 from "node:http2";
import type * as grpc from "@grpc/grpc-js";

/** HTTP/2's largest window (RFC 9113 §6.9.1); Node throws ERR_OUT_OF_RANGE above it. */
const MAX_WINDOW = 2 ** 31 - 1;

interface GrpcServerInternals {
  commonServerOptions?: { settings?: http2.Settings };
  http2Servers?: Map<http2.Http2Server, { sessions: Set<http2.ServerHttp2Session> }>;
}

/** Before `bindAsync`: every stream a peer opens may have `bytes` in flight. False if grpc-js changed. */
export function widenStreamWindow(server: grpc.Server, bytes: number): boolean {
  const options = (server as unknown as GrpcServerInternals).commonServerOptions;
  if (!options || typeof options !== "object") return false;
  options.settings = { ...options.settings, initialWindowSize: Math.min(bytes, MAX_WINDOW) };
  return true;
}

/** After `bindAsync` succeeded: each connection (open or to come) may have `bytes` in flight over all its streams. */
export function widenConnectionWindow(server: grpc.Server, bytes: number): boolean {
  const servers = (server as unknown as GrpcServerInternals).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  const window = Math.min(bytes, MAX_WINDOW);
  // Runs in the server's "session" listener: a throw there would take the node down on a connection.
  const widen = (session: http2.ServerHttp2Session) => {
    try {
      if (!session.destroyed && !session.closed) session.setLocalWindowSize(window);
    } catch {
      // that session keeps the default window: slower, never wrong
    }
  };
  try {
    for (const [h2, entry] of servers) {
      h2.on("session", widen);
      for (const s of entry.sessions) widen(s);
    }
  } catch {
    return false;
  }
  return true;
}
