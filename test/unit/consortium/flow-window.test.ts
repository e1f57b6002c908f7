import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { widenConnectionWindow, widenStreamWindow } from "../../../chains/consortium/net/flow-window.ts";
import { until } from "./helpers.ts";

/** What a peer dialing the server is told it may send: per stream (SETTINGS) and per connection (WINDOW_UPDATE). */
async function windowsSeenByClient(port: number): Promise<{ client: http2.ClientHttp2Session; stream: number }> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  const stream = await new Promise<number>((resolve, reject) => {
    client.once("remoteSettings", (s) => resolve(s.initialWindowSize ?? 65_535));
    client.once("error", reject);
  });
  return { client, stream };
}

describe("consortium peer server flow-control windows (gRPC internals this version reaches)", () => {
  let server: grpc.Server | undefined;
  const clients: http2.ClientHttp2Session[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
    server?.forceShutdown();
    server = undefined;
  });

  async function bind(s: grpc.Server): Promise<number> {
    return new Promise((resolve, reject) => s.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  }

  it("a peer may send a whole message per stream and both lanes' worth per connection", async () => {
    server = new grpc.Server();
    assert.equal(widenStreamWindow(server, 4 << 20), true);
    const port = await bind(server);
    assert.equal(widenConnectionWindow(server, 8 << 20), true);
    const { client, stream } = await windowsSeenByClient(port);
    clients.push(client);
    assert.equal(stream, 4 << 20);
    await until(() => client.state.remoteWindowSize === 8 << 20, 5_000, "the connection window update");
  });

  it("a connection made before the window was raised is raised too", async () => {
    server = new grpc.Server();
    widenStreamWindow(server, 1 << 20);
    const port = await bind(server);
    const early = await windowsSeenByClient(port);
    clients.push(early.client);
    assert.equal(early.client.state.remoteWindowSize, 65_535, "HTTP/2's default before the raise");
    assert.equal(widenConnectionWindow(server, 2 << 20), true);
    await until(() => early.client.state.remoteWindowSize === 2 << 20, 5_000, "the connection window update");
  });

  it("without it a peer gets HTTP/2's 64 KiB default (what the raise is measured against)", async () => {
    server = new grpc.Server();
    const port = await bind(server);
    const { client, stream } = await windowsSeenByClient(port);
    clients.push(client);
    assert.equal(stream, 65_535);
    assert.equal(client.state.remoteWindowSize, 65_535);
  });

  it("a window beyond HTTP/2's largest (maxPeerMessageBytes may be 1 GiB, doubled per connection) is capped, not thrown on a connection", async () => {
    server = new grpc.Server();
    assert.equal(widenStreamWindow(server, 2 ** 31), true);
    const port = await bind(server);
    assert.equal(widenConnectionWindow(server, 2 ** 31), true);
    const { client, stream } = await windowsSeenByClient(port);
    clients.push(client);
    assert.equal(stream, 2 ** 31 - 1);
    await until(() => client.state.remoteWindowSize === 2 ** 31 - 1, 5_000, "the connection window update");
  });

  it("a server not yet bound has no connections to widen: reported, not thrown", () => {
    assert.equal(widenConnectionWindow(new grpc.Server(), 1 << 20), false);
  });
});
