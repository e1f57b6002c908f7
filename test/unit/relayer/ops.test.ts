import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { renderExposition } from "../../../relayer/ops/metrics.ts";
import { createLogger } from "../../../relayer/log.ts";
import { SwapStore } from "../../../relayer/store.ts";
import { http, lockedSwap, parseExposition, post, secret, sleep, startRig, stopRig, until, USER, type Rig } from "./rig.ts";

describe("relayer operations: metrics, readiness, logs, graceful shutdown", function () {
  this.timeout(20_000);
  let rig: Rig | undefined;
  afterEach(async () => {
    await stopRig(rig);
    rig = undefined;
  });

  it("a taken api.port or metrics.listen fails the start with PORT_BUSY naming the config key and address", async () => {
    const holder: Server = await new Promise((res, rej) => {
      const s = createServer();
      s.once("error", rej);
      s.listen(0, "127.0.0.1", () => res(s));
    });
    const port = (holder.address() as AddressInfo).port;
    try {
      const busy = (key: string) => (err: unknown) => {
        const e = err as Error & { code?: string };
        assert.equal(e.code, "PORT_BUSY");
        assert.equal(e.message, `test.yaml: ${key} 127.0.0.1:${port} is in use; is another relayer daemon (or npm start's devnet) running? stop it, or change ${key}`);
        return true;
      };
      await assert.rejects(startRig({ api: { host: "127.0.0.1", port, tenants: [] } }), busy("api.port"));
      await assert.rejects(startRig({ metrics: { listen: { host: "127.0.0.1", port } } }), busy("metrics.listen"));
    } finally {
      await new Promise((res) => holder.close(res));
    }
  });

  it("renders the exposition format: HELP/TYPE per family, escaped label values", () => {
    const text = renderExposition([
      { name: "isthmus_x", type: "gauge", help: "a\\b", samples: [{ labels: { route: 'a"b\nc\\d' }, value: 1.5 }, { value: Infinity }] },
    ]);
    assert.equal(text, '# HELP isthmus_x a\\\\b\n# TYPE isthmus_x gauge\nisthmus_x{route="a\\"b\\nc\\\\d"} 1.5\nisthmus_x +Inf\n');
    assert.throws(() => renderExposition([{ name: "bad-name", type: "gauge", help: "", samples: [] }]), /bad metric name/);
  });

  it("/metrics reports swaps by state and route, backlog, deadlines, chain heights and lag, RPC errors and balances", async () => {
    rig = await startRig();
    const { id } = await lockedSwap(rig);
    await until("counter-lock", () => rig!.daemon.store.get(id)?.state === "relayer_locked");
    const s2 = secret();
    assert.equal((await post(`${rig.daemon.api.url}/swaps`, { from: "beta:B", to: "alpha:A", amount: "2", hashlock: s2.hashlock, userFrom: USER, userTo: USER })).status, 201);
    rig.beta.down = true;
    await until("an rpc error", () => rig!.daemon.metrics.rpcErrors.get({ chain: "beta", method: "head" }) > 0);

    const res = await http(`${rig.daemon.api.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.type ?? "", /^text\/plain; version=0\.0\.4/);
    const m = parseExposition(res.text);
    assert.equal(m.get('isthmus_swaps{state="relayer_locked",route="alpha:A->beta:B"}'), 1);
    assert.equal(m.get('isthmus_swaps{state="awaiting_user_lock",route="beta:B->alpha:A"}'), 1);
    assert.equal(m.get("isthmus_backlog_swaps"), 2);
    assert.ok(m.get("isthmus_backlog_oldest_age_seconds")! >= 0);
    // The locked swap holds the relayer to claiming the user's lock on alpha before its timelock.
    assert.equal(m.get('isthmus_deadlines_held{chain="alpha"}'), 1);
    assert.equal(m.get('isthmus_deadline_nearest_seconds{chain="alpha"}'), 3600);
    assert.equal(m.get('isthmus_chain_finalized_height{chain="alpha"}'), rig.alpha.height);
    assert.equal(m.get('isthmus_chain_head_height{chain="alpha"}'), rig.alpha.height + 2);
    assert.equal(m.get('isthmus_chain_finality_lag_blocks{chain="alpha"}'), 2);
    assert.equal(m.get('isthmus_chain_scan_lag_blocks{chain="alpha"}'), 0);
    assert.ok(m.get('isthmus_rpc_errors_total{chain="beta",method="head"}')! >= 1);
    assert.equal(m.get('isthmus_chain_up{chain="beta"}'), 0, "the watcher backs off from beta");
    assert.equal(m.get('isthmus_chain_up{chain="alpha"}'), 1);
    assert.ok(m.get('isthmus_rpc_requests_total{chain="alpha",method="lock"}') === undefined);
    assert.ok(m.get('isthmus_rpc_requests_total{chain="beta",method="lock"}')! >= 1);
    // 10000.00 A at start, untouched on alpha; beta is down so its balance is absent, not stale.
    assert.equal(m.get('isthmus_wallet_balance{chain="alpha",asset="A"}'), 10000);
    assert.equal(m.get('isthmus_wallet_balance{chain="beta",asset="B"}'), undefined);
    rig.beta.down = false;
    const m2 = parseExposition((await http(`${rig.daemon.api.url}/metrics`)).text);
    assert.equal(m2.get('isthmus_wallet_balance{chain="beta",asset="B"}'), 9995);
    await until("beta back", () => rig!.daemon.metrics.reconnects.get({ chain: "beta" }) === 1);
    const m3 = parseExposition((await http(`${rig.daemon.api.url}/metrics`)).text);
    assert.equal(m3.get('isthmus_chain_reconnects_total{chain="beta"}'), 1);
    assert.equal(m3.get('isthmus_chain_up{chain="beta"}'), 1);
  });

  it("metrics.listen: /metrics, /healthz and /readyz on their own port with nonce-resync and rebroadcast counters; nothing else there", async () => {
    rig = await startRig({ metrics: { listen: { host: "127.0.0.1", port: 0 } } });
    const url = rig.daemon.metricsServer!.url;
    assert.notEqual(url, rig.daemon.api.url);
    // What an EVM or consortium adapter reports (their senders count these; see the tx-sender tests).
    Object.assign(rig.alpha, { sendStats: () => ({ nonceResyncs: 3, rebroadcasts: 2 }) });
    const res = await http(`${url}/metrics`);
    assert.equal(res.status, 200);
    const m = parseExposition(res.text);
    assert.equal(m.get('isthmus_nonce_resyncs_total{chain="alpha"}'), 3);
    assert.equal(m.get('isthmus_tx_rebroadcasts_total{chain="alpha"}'), 2);
    assert.equal(m.get('isthmus_nonce_resyncs_total{chain="beta"}'), undefined, "an adapter without a nonce sender reports none");
    assert.match(res.text, /# TYPE isthmus_tx_rebroadcasts_total counter/);
    assert.equal(m.get("isthmus_up"), 1);
    assert.equal((await http(`${url}/healthz`)).status, 200);
    assert.equal((await http(`${url}/readyz`)).status, 200);
    assert.equal((await http(`${url}/swaps`)).status, 404, "the swap API is not served on the metrics port");
    assert.equal((await post(`${url}/metrics`, {})).status, 405);
  });

  it("/readyz is 200 when the store and every ledger answer, 503 naming the ledger that does not", async () => {
    rig = await startRig();
    const ok = await http(`${rig.daemon.api.url}/readyz`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.ready, true);
    assert.deepEqual(ok.body.store, { ok: true });
    rig.alpha.down = true;
    const bad = await http(`${rig.daemon.api.url}/readyz`);
    assert.equal(bad.status, 503);
    assert.equal(bad.body.chains.alpha.ok, false);
    assert.match(bad.body.chains.alpha.error, /connection refused/);
    assert.equal(bad.body.chains.beta.ok, true);
    assert.equal((await http(`${rig.daemon.api.url}/healthz`)).status, 200, "liveness does not depend on ledgers");
  });

  it("logs JSON lines carrying swap ids, and never the preimage or a key", async () => {
    rig = await startRig();
    const { id, preimage } = await lockedSwap(rig);
    const locked = await until("counter-lock", () => {
      const s = rig!.daemon.store.get(id);
      return s?.state === "relayer_locked" ? s : null;
    });
    rig.beta.claimAs(USER, locked.counterLock.lockId, preimage);
    await until("completed", () => rig!.daemon.store.get(id)?.state === "completed");
    const parsed = rig.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const p of parsed) {
      assert.equal(typeof p.level, "string");
      assert.equal(typeof p.msg, "string");
      assert.match(String(p.time), /^\d{4}-\d\d-\d\dT/);
    }
    const mine = parsed.filter((p) => p.swap === id).map((p) => p.msg);
    for (const msg of ["swap created", "user lock verified", "counter-lock sent", "claim sent"]) assert.ok(mine.includes(msg), `"${msg}" logged with swap id: ${mine.join(" | ")}`);
    assert.ok(!rig.lines.some((l) => l.includes(preimage.slice(2))), "the preimage never appears in logs");
    const l = createLogger({ write: (x) => rig!.lines.push(x) });
    l.info("oops", { privateKey: "0xabc", nested: { preimage: "0xdef" } });
    assert.deepEqual(JSON.parse(rig.lines.at(-1)!).nested, { preimage: "[redacted]" });
    assert.equal(JSON.parse(rig.lines.at(-1)!).privateKey, "[redacted]");
  });

  it("graceful stop: refuses new swaps, waits for the send in flight, saves its tx id, then closes", async () => {
    rig = await startRig();
    let release!: () => void;
    rig.beta.gate = new Promise((r) => (release = r));
    const { id } = await lockedSwap(rig);
    await until("send in flight", () => rig!.beta.sendsStarted === 1);
    let stopped = false;
    const stopping = rig.daemon.stop().then(() => (stopped = true));
    await sleep(50);
    assert.equal(stopped, false, "stop waits for the send in flight");
    const refused = await post(`${rig.daemon.api.url}/swaps`, { from: "alpha:A", to: "beta:B", amount: "1", hashlock: secret().hashlock, userFrom: USER, userTo: USER });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, "SHUTTING_DOWN");
    const ready = await http(`${rig.daemon.api.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.draining, true);
    release();
    await stopping;
    assert.equal(rig.beta.sendsStarted, 1, "no new send after stop began");
    const store = new SwapStore(rig.config.store);
    try {
      const s = store.get(id)!;
      assert.equal(s.state, "relayer_locking");
      assert.ok(s.state === "relayer_locking" && s.counterLock.txId, "the in-flight send's tx id was saved before exit");
      assert.equal(store.list({}).length, 1, "the refused swap was not stored");
    } finally {
      store.close();
    }
    const rig2 = rig;
    rig = undefined;
    rmSync(rig2.dir, { recursive: true, force: true });
  });
});
