import assert from "node:assert/strict";
import { request } from "node:http";
import { DASHBOARD_CSP, DASHBOARD_FILES } from "../../../relayer/api/dashboard-files.ts";
import { byUrgency, deadlinesOf, finalityRuleOf } from "../../../relayer/api/status-views.ts";
import { http, lockedSwap, post, RELAYER, secret, startRig, stopRig, until, USER, type Rig } from "./rig.ts";

/** Read server-sent events from `path` until `done` says stop; returns the parsed `event`/`data` pairs. */
function readEvents(base: string, path: string, done: (events: { event: string; data: any }[]) => boolean, ms = 5000): Promise<{ event: string; data: any }[]> {
  const url = new URL(base);
  const events: { event: string; data: any }[] = [];
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: "GET" });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`events from ${path}: condition not met within ${ms} ms (got ${JSON.stringify(events.map((e) => e.event))})`));
    }, ms);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
        for (let i = text.indexOf("\n\n"); i >= 0; i = text.indexOf("\n\n")) {
          const block = text.slice(0, i);
          text = text.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
        if (done(events)) {
          clearTimeout(timer);
          req.destroy();
          resolve(events);
        }
      });
    });
    req.on("error", (err) => {
      if (!events.length || !done(events)) reject(err);
    });
    req.end();
  });
}

describe("dashboard: page files and the read-only status endpoints", function () {
  this.timeout(20_000);
  let rig: Rig | undefined;
  afterEach(async () => {
    await stopRig(rig);
    rig = undefined;
  });

  it("serves the page and its files with their content types, a self-only CSP and revalidation caching", async () => {
    rig = await startRig();
    const types: Record<string, RegExp> = { "/": /^text\/html; charset=utf-8$/, js: /^text\/javascript; charset=utf-8$/, css: /^text\/css; charset=utf-8$/, svg: /^image\/svg\+xml$/ };
    for (const path of Object.keys(DASHBOARD_FILES)) {
      const res = await fetch(rig.daemon.api.url + path);
      assert.equal(res.status, 200, path);
      const ext = path === "/" ? "/" : path.slice(path.lastIndexOf(".") + 1);
      assert.match(res.headers.get("content-type")!, types[ext]!, path);
      assert.equal(res.headers.get("content-security-policy"), DASHBOARD_CSP);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("cache-control"), "no-cache");
      const etag = res.headers.get("etag");
      assert.match(etag!, /^"[\w-]+"$/);
      const body = await res.text();
      assert.ok(body.length > 0);
      // Nothing is loaded from another origin: no absolute URLs in any file.
      assert.doesNotMatch(body, /(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i, `${path} loads nothing from elsewhere`);
      assert.doesNotMatch(body, /(?:import|fetch|EventSource)\s*\(?\s*["'`](?:https?:)?\/\//, `${path} fetches nothing from elsewhere`);
      const again = await fetch(rig.daemon.api.url + path, { headers: { "if-none-match": etag! } });
      assert.equal(again.status, 304, `${path} revalidates with its ETag`);
      assert.equal((await again.text()).length, 0);
    }
    assert.ok(DASHBOARD_CSP.includes("script-src 'self'") && DASHBOARD_CSP.includes("connect-src 'self'") && !DASHBOARD_CSP.includes("unsafe"));
    const html = await (await fetch(rig.daemon.api.url + "/")).text();
    assert.doesNotMatch(html, /<script>(?!<\/script>)|\sstyle=|\son\w+=/i, "no inline script, style or handlers (the CSP would block them)");
    assert.equal((await http(`${rig.daemon.api.url}/dashboard/../store.ts`)).status, 404);
    assert.equal((await http(`${rig.daemon.api.url}/dashboard/nope.js`)).status, 404);
  });

  it("GET /chains: each chain's heights, lag, finality rule, chain time and watcher health", async () => {
    rig = await startRig();
    rig.alpha.height = 50;
    rig.alpha.time = 1_000_500;
    await until("watcher saw alpha at 50", () => rig!.daemon.engine.lastHeads().get("alpha")?.finalizedHeight === 50);
    const chains = (await http(`${rig.daemon.api.url}/chains`)).body as any[];
    assert.deepEqual(
      chains.map((c) => c.name),
      ["alpha", "beta"],
    );
    const alpha = chains[0];
    assert.equal(alpha.kind, "evm");
    assert.equal(alpha.headHeight, 52);
    assert.equal(alpha.finalizedHeight, 50);
    assert.equal(alpha.lagBlocks, 2);
    assert.equal(alpha.chainTime, 1_000_500);
    assert.equal(alpha.relayer, RELAYER);
    assert.deepEqual(alpha.assets, [{ symbol: "A", decimals: 2 }]);
    assert.deepEqual(alpha.finality, { kind: "confirmations", confirmations: 1, description: "1 confirmation", finalitySec: 1, blockTimeSec: 1 });
    assert.equal(alpha.up, true);
    assert.ok(alpha.scannedHeight <= 50 && alpha.scanLagBlocks === 50 - alpha.scannedHeight);

    rig.beta.down = true;
    const down = await until("beta reported down", async () => ((await http(`${rig!.daemon.api.url}/chains`)).body as any[]).find((c) => c.name === "beta" && !c.up));
    assert.ok(down.failures >= 1);
    assert.equal(down.finalizedHeight, 10, "the last head seen stays visible while the chain is down");
  });

  it("finality rules per ledger kind", () => {
    assert.equal(finalityRuleOf({ kind: "consortium", timing: { blockTimeSec: 1, finalitySec: 1, clockSkewSec: 1 } }).kind, "bft-commit");
    assert.deepEqual(finalityRuleOf({ kind: "evm", timing: { blockTimeSec: 2, finalitySec: 24, clockSkewSec: 1 } }), { kind: "confirmations", confirmations: 12, description: "12 confirmations" });
    assert.equal(finalityRuleOf({ kind: "fabric", timing: { blockTimeSec: 1, finalitySec: 1, clockSkewSec: 1 } }).kind, "ordered");
  });

  it("GET /balances: the relayer's balance per chain and asset in whole units; a chain that does not answer is marked, not dropped", async () => {
    rig = await startRig();
    rig.alpha.balances.set(`${RELAYER}:A`, 123_456n);
    const ok = (await http(`${rig.daemon.api.url}/balances`)).body;
    assert.deepEqual(ok, [
      { chain: "alpha", asset: "A", ok: true, units: "123456", amount: "1234.56", decimals: 2 },
      { chain: "beta", asset: "B", ok: true, units: "1000000", amount: "10000", decimals: 2 },
    ]);
    rig.beta.down = true;
    const partial = (await http(`${rig.daemon.api.url}/balances`)).body as any[];
    assert.equal(partial[0].ok, true);
    assert.equal(partial[1].ok, false);
    assert.match(partial[1].error, /connection refused/);
  });

  it("GET /inflight: swaps not yet final, amounts in whole units, every deadline with chain time left from the relayer's heads", async () => {
    rig = await startRig();
    const url = rig.daemon.api.url;
    const waiting = await post(`${url}/swaps`, { from: "beta:B", to: "alpha:A", amount: "2.5", hashlock: secret().hashlock, userFrom: USER, userTo: USER });
    assert.equal(waiting.status, 201);
    const s = await lockedSwap(rig, "5");
    const locked = await until("locked", () => {
      const x = rig!.daemon.store.get(s.id);
      return x?.state === "relayer_locked" ? x : null;
    });
    rig.alpha.time += 100; // the user's lock is on alpha: its time left shrinks by 100 s
    await until("watcher saw alpha's new time", () => rig!.daemon.engine.lastHeads().get("alpha")?.finalizedTime === rig!.alpha.time);
    const list = (await http(`${url}/inflight`)).body as any[];
    assert.deepEqual(list.map((x) => x.id).sort(), [waiting.body.id, s.id].sort());
    const w = list.find((x) => x.id === waiting.body.id);
    assert.equal(w.state, "awaiting_user_lock");
    assert.equal(w.amountIn, "250");
    assert.equal(w.amountInText, "2.5");
    assert.deepEqual(w.deadlines, [{ what: "user-lock", chain: "beta", time: w.quoteExpiresAt, secondsLeft: w.quoteExpiresAt - rig.beta.time }]);
    const l = list.find((x) => x.id === s.id);
    assert.equal(l.state, "relayer_locked");
    assert.deepEqual(l.deadlines, [
      { what: "counter-lock", chain: "beta", time: locked.counterLock.timelock, secondsLeft: locked.counterLock.timelock - rig.beta.time },
      { what: "relayer-claim", chain: "alpha", time: locked.userLock.timelock, secondsLeft: locked.userLock.timelock - rig.alpha.time },
    ]);

    const least = (x: any) => Math.min(...x.deadlines.map((d: any) => d.secondsLeft));
    assert.ok(least(list[0]) <= least(list[1]), "most urgent first");
    const one = await fetch(`${url}/inflight?limit=1`);
    assert.equal(one.headers.get("x-total-count"), "2");
    assert.deepEqual(((await one.json()) as any[]).map((x) => x.id), [list[0].id]);
    assert.equal((await http(`${url}/inflight?limit=0`)).status, 400);
    assert.equal((await http(`${url}/inflight?state=completed`)).status, 400);

    rig.beta.claimAs(USER, locked.counterLock.lockId, s.preimage);
    await until("completed", () => rig!.daemon.store.get(s.id)?.state === "completed");
    assert.deepEqual(((await http(`${url}/inflight`)).body as any[]).map((x) => x.id), [waiting.body.id], "a completed swap leaves the in-flight list");
  });

  it("urgency order: least chain time left first, unknown time last, then oldest", () => {
    const v = (id: string, createdAtMs: number, ...left: (number | null)[]) => ({
      id,
      createdAtMs,
      amountInText: "1",
      amountOutText: "1",
      deadlines: left.map((secondsLeft) => ({ what: "counter-lock" as const, chain: "x", time: 0, secondsLeft })),
    });
    const sorted = [v("a", 1, null), v("b", 2, 500, 90), v("c", 3, 100), v("d", 0, 100), v("e", 9), v("f", 5, -3)].sort(byUrgency);
    assert.deepEqual(
      sorted.map((x) => x.id),
      ["f", "b", "d", "c", "a", "e"],
    );
  });

  it("deadlines are none for final swaps", () => {
    const base = { id: "a".repeat(24), from: { chain: "x", asset: "A" }, to: { chain: "y", asset: "B" }, amountIn: 1n, amountOut: 1n, hashlock: `0x${"0".repeat(64)}`, userFrom: USER, userTo: USER, relayerFrom: RELAYER, quoteExpiresAt: 5, createdAtMs: 0 } as const;
    assert.deepEqual(deadlinesOf({ ...base, state: "expired" }, () => 1), []);
    assert.deepEqual(deadlinesOf({ ...base, state: "awaiting_user_lock" }, () => undefined), [{ what: "user-lock", chain: "x", time: 5, secondsLeft: null }]);
  });

  it("GET /events?heads=1 adds a `chain` event per chain at once and whenever a chain's view changes; without it, only swaps", async () => {
    rig = await startRig();
    const base = rig.daemon.api.url;
    const first = await readEvents(base, "/events?heads=1", (ev) => ev.filter((e) => e.event === "chain").length >= 2);
    assert.deepEqual(first.filter((e) => e.event === "chain").map((e) => e.data.name).sort(), ["alpha", "beta"]);
    const moved = readEvents(base, "/events?heads=1", (ev) => ev.some((e) => e.event === "chain" && e.data.name === "alpha" && e.data.finalizedHeight === 77));
    await new Promise((r) => setTimeout(r, 100));
    rig.alpha.height = 77;
    await moved;
    assert.equal((await http(`${base}/events?heads=yes`)).status, 400);
    // A plain stream carries swap events only (existing clients see no new event type).
    const plain = readEvents(base, "/events", (ev) => ev.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    await post(`${base}/swaps`, { from: "alpha:A", to: "beta:B", amount: "1", hashlock: secret().hashlock, userFrom: USER, userTo: USER });
    assert.deepEqual((await plain).map((e) => e.event), ["swap"]);
  });

  it("a graceful stop ends open chain streams cleanly", async () => {
    rig = await startRig();
    const url = new URL(rig.daemon.api.url);
    const ended = new Promise<string>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: "/events?heads=1", method: "GET" }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end();
    });
    await until("watcher has both heads", () => rig!.daemon.engine.lastHeads().size === 2);
    await new Promise((r) => setTimeout(r, 1200)); // at least one heads tick
    await rig.daemon.stop();
    assert.match(await ended, /event: chain/);
  });

  it("reads need no key, so the page holds none; POST /swaps still refuses a request without one", async () => {
    rig = await startRig();
    for (const p of ["/", "/chains", "/balances", "/inflight"]) assert.equal((await http(rig.daemon.api.url + p)).status, 200, p);
    assert.equal((await post(`${rig.daemon.api.url}/swaps`, {}, null)).status, 401);
  });
});
