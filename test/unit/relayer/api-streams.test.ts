/**
 * GET /events is open to anyone: the number of streams and what a stream may hold unread
 * must be bounded, or clients that connect and never read grow the daemon's memory until
 * it dies (and a dead relayer misses its claim deadlines).
 */
import assert from "node:assert/strict";
import { request, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { DEFAULT_TIMELOCKS } from "../../../relayer/config.ts";
import { parseRate } from "../../../relayer/core/amount.ts";
import { startApi, type ApiServer } from "../../../relayer/api/server.ts";
import { SwapEngine } from "../../../relayer/engine.ts";
import { silentLogger } from "../../../relayer/log.ts";
import { SwapStore } from "../../../relayer/store.ts";
import { FakeLedger } from "./fake-ledger.ts";
import { awaiting } from "./fixtures.ts";
import { RELAYER, until } from "./rig.ts";

describe("api: /events streams are bounded", () => {
  let store: SwapStore;
  let api: ApiServer;
  const open: IncomingMessage[] = [];

  async function start(opts: { maxStreams?: number; maxStreamBufferBytes?: number }) {
    const alpha = new FakeLedger("alpha", RELAYER, ["A"]);
    const beta = new FakeLedger("beta", RELAYER, ["B"]);
    const ledgers = new Map([["alpha", alpha], ["beta", beta]]);
    store = new SwapStore(":memory:");
    const routes = [{ from: { chain: "alpha", asset: "A" }, to: { chain: "beta", asset: "B" }, rate: parseRate("1"), minIn: 100n, maxIn: 100_000n }];
    const engine = new SwapEngine(ledgers, routes, store, DEFAULT_TIMELOCKS, silentLogger, 10);
    api = await startApi({ engine, store, host: "127.0.0.1", port: 0, log: silentLogger, ledgers, ...opts });
  }

  function stream(): Promise<IncomingMessage> {
    const url = new URL(`${api.url}/events`);
    return new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: "/events", method: "GET" }, (res) => {
        open.push(res);
        resolve(res);
      });
      req.on("error", reject);
      req.end();
    });
  }

  afterEach(async () => {
    for (const r of open.splice(0)) r.destroy();
    await api.close();
    store.close();
  });

  it("refuses a stream beyond the limit with 503, and takes one again once a stream ends", async () => {
    await start({ maxStreams: 2 });
    const a = await stream();
    const b = await stream();
    assert.deepEqual([a.statusCode, b.statusCode], [200, 200]);
    const c = await stream();
    assert.equal(c.statusCode, 503);
    let body = "";
    for await (const chunk of c) body += chunk;
    assert.equal(JSON.parse(body).error.code, "TOO_MANY_STREAMS");
    a.destroy();
    const d = await until("a free stream slot", async () => {
      const r = await stream();
      if (r.statusCode === 200) return r;
      r.resume();
      return null;
    });
    assert.equal(d.statusCode, 200);
  });

  it("cuts a stream whose client stops reading once its unsent backlog passes the bound", async () => {
    await start({ maxStreams: 1, maxStreamBufferBytes: 256 * 1024 });
    const url = new URL(api.url);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((r) => socket.once("connect", () => r()));
    socket.write("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    socket.pause(); // never reads: the server's writes pile up (and this side never sees the close)
    await until("the stream to be registered", async () => {
      const r = await stream();
      r.resume();
      return r.statusCode === 503;
    });
    // Swap changes with long notes: megabytes for that one stream to hold.
    const note = "x".repeat(8 * 1024);
    for (let i = 0; i < 2000; i++) {
      store.insert(awaiting(i.toString(16).padStart(24, "0"), `0x${i.toString(16).padStart(64, "0")}`), note);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    const next = await until("the slow stream's slot to be free", async () => {
      const r = await stream();
      if (r.statusCode === 200) return r;
      r.resume();
      return null;
    });
    assert.equal(next.statusCode, 200, "the slow stream was cut and its slot is free again");
    socket.destroy();
  });
});
