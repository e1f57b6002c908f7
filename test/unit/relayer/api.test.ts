import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { parse } from "yaml";
import { hashApiKey, TenantAuth, TokenBucket } from "../../../relayer/api/auth.ts";
import { API_ROUTES } from "../../../relayer/api/server.ts";
import { verifyProofBundle } from "../../../proofs/bundle.ts";
import { http, lockedSwap, post, secret, startRig, stopRig, until, USER, RELAYER, type Rig } from "./rig.ts";

const OPENAPI = "relayer/api/openapi.yaml";

describe("relayer API contract and hardening", function () {
  this.timeout(20_000);
  let rig: Rig | undefined;
  afterEach(async () => {
    await stopRig(rig);
    rig = undefined;
  });

  const body = (over: Record<string, unknown> = {}) => ({ from: "alpha:A", to: "beta:B", amount: "5", hashlock: secret().hashlock, userFrom: USER, userTo: USER, ...over });
  const stored = () => rig!.daemon.store.list({}).length;

  it("the OpenAPI document lists exactly the routes the server serves, each with its auth", () => {
    const doc = parse(readFileSync(OPENAPI, "utf8")) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    const served = API_ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    assert.deepEqual(documented, served);
    for (const r of API_ROUTES) {
      const op = doc.paths[r.path]![r.method.toLowerCase()]!;
      assert.equal(Boolean(op.security?.length), r.auth, `${r.method} ${r.path}: documented security matches`);
    }
  });

  it("every documented route answers (no 404/405) on a running server", async () => {
    rig = await startRig();
    for (const r of API_ROUTES.filter((x) => x.method === "GET" && x.path !== "/events")) {
      const path = r.path.replace("{id}", "0".repeat(24)) + (r.path === "/quote" ? "?from=alpha:A&to=beta:B&amount=1" : "");
      const res = await http(rig.daemon.api.url + path);
      assert.ok(res.status !== 405 && !(res.status === 404 && !r.path.startsWith("/swaps/{id}")), `${r.path}: ${res.status}`);
    }
  });

  it("GET /swaps/{id}/proofs serves the swap's stored bundles, which re-verify offline; an unknown swap is 404", async () => {
    rig = await startRig();
    const { id } = await lockedSwap(rig);
    const empty = await http(`${rig.daemon.api.url}/swaps/${id}/proofs`);
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, { swap: id, proofs: [] });
    const bundle = JSON.parse(readFileSync("test/vectors/fabric/bundle-locked.json", "utf8"));
    const anchor = JSON.parse(readFileSync("test/vectors/fabric/anchor.json", "utf8"));
    rig.daemon.store.addProof(id, { role: "user-lock", chain: "fabric", lockId: bundle.lockId, bundle });
    const res = await http(`${rig.daemon.api.url}/swaps/${id}/proofs`);
    assert.equal(res.status, 200);
    assert.equal(res.body.proofs.length, 1);
    const p = res.body.proofs[0];
    assert.deepEqual({ seq: p.seq, role: p.role, chain: p.chain, lockId: p.lockId, kind: p.kind }, { seq: 1, role: "user-lock", chain: "fabric", lockId: bundle.lockId, kind: "fabric-lock" });
    const v = verifyProofBundle(p.bundle, anchor);
    assert.ok(v.ok && v.lock?.status === "locked", v.ok ? "" : v.reason);
    const missing = await http(`${rig.daemon.api.url}/swaps/${"f".repeat(24)}/proofs`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "NOT_FOUND");
  });

  it("mutating endpoints need a tenant's key: none or a wrong one is 401 and stores nothing", async () => {
    rig = await startRig();
    const none = await post(`${rig.daemon.api.url}/swaps`, body(), null);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, "UNAUTHORIZED");
    assert.equal((await post(`${rig.daemon.api.url}/swaps`, body(), "isk_wrong")).status, 401);
    const viaHeader = await http(`${rig.daemon.api.url}/swaps`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": "isk_test_acme" }, body: JSON.stringify(body()) });
    assert.equal(viaHeader.status, 201);
    assert.equal(viaHeader.body.tenant, "acme");
    assert.equal(stored(), 1);
  });

  it("with no tenants configured, POST /swaps is closed", async () => {
    rig = await startRig({ api: { host: "127.0.0.1", port: 0, tenants: [] } });
    const res = await post(`${rig.daemon.api.url}/swaps`, body());
    assert.equal(res.status, 401);
    assert.match(res.body.error.message, /no API keys configured/);
  });

  it("keys are compared by hash; a tenant over its rate limit gets 429 with Retry-After", async () => {
    rig = await startRig({ api: { host: "127.0.0.1", port: 0, tenants: [{ name: "slow", keySha256: hashApiKey("isk_slow"), ratePerMinute: 60, burst: 2 }] } });
    const codes: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${rig.daemon.api.url}/swaps`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer isk_slow" }, body: JSON.stringify(body()) });
      codes.push(res.status);
      retryAfter ??= res.headers.get("retry-after");
    }
    assert.deepEqual(codes, [201, 201, 429]);
    assert.equal(retryAfter, "1");
    assert.equal(stored(), 2);
    // Reads are not charged, with or without the tenant's key.
    assert.equal((await http(`${rig.daemon.api.url}/swaps`)).status, 200);
    assert.equal((await http(`${rig.daemon.api.url}/swaps`, { headers: { authorization: "Bearer isk_slow" } })).status, 200);
    assert.equal((await http(`${rig.daemon.api.url}/swaps`, { headers: { authorization: "Bearer isk_wrong" } })).status, 401, "a wrong key on a read is still refused");
  });

  it("token bucket: burst, then the sustained rate, on pinned time", () => {
    const b = new TokenBucket(60, 2, 0);
    assert.deepEqual([b.take(0), b.take(0), b.take(0)], [0, 0, 1]);
    assert.equal(b.take(999), 1);
    assert.equal(b.take(1000), 0);
    let now = 0;
    const auth = new TenantAuth([{ name: "t", keySha256: hashApiKey("k"), ratePerMinute: 1, burst: 1 }], () => now);
    const t = auth.require("Bearer k", undefined);
    auth.charge(t);
    assert.throws(() => auth.charge(t), /retry in 60s/);
    now = 60_000;
    auth.charge(t);
  });

  it("bad input is a clear 4xx and stores nothing", async () => {
    rig = await startRig();
    const url = `${rig.daemon.api.url}/swaps`;
    const raw = (text: string, type = "application/json") => http(url, { method: "POST", headers: { "content-type": type, authorization: "Bearer isk_test_acme" }, body: text });
    const cases: [string, Promise<{ status: number; body: any }>, number, RegExp][] = [
      ["malformed JSON", raw("{not json"), 400, /not valid JSON/],
      ["empty body", raw(""), 400, /empty/],
      ["array body", raw("[]"), 400, /JSON object/],
      ["not JSON content-type", raw(JSON.stringify(body()), "text/plain"), 415, /application\/json/],
      ["unknown field", post(url, body({ extra: 1 })), 400, /extra: unknown field/],
      ["number amount", post(url, body({ amount: 5 })), 400, /amount: must be a string/],
      ["missing field", post(url, { ...body(), userTo: undefined }), 400, /userTo: is required/],
      ["amount above max", post(url, body({ amount: "1000.01" })), 400, /outside this route's limits/],
      ["amount below min", post(url, body({ amount: "0.5" })), 400, /outside this route's limits/],
      ["too many decimals", post(url, body({ amount: "1.001" })), 400, /3 decimals but the asset has only 2/],
      ["negative amount", post(url, body({ amount: "-5" })), 400, /not a positive decimal/],
      ["short hashlock", post(url, body({ hashlock: "0x" + "ab".repeat(31) })), 400, /hashlock: must be 32 bytes/],
      ["long hashlock", post(url, body({ hashlock: "0x" + "ab".repeat(33) })), 400, /hashlock: must be 32 bytes/],
      ["bad address", post(url, body({ userTo: "0x12" })), 400, /userTo: must be a 20-byte/],
      ["unknown route", post(url, body({ to: "alpha:A" })), 400, /does not offer/],
      ["unknown chain", post(url, body({ to: "gamma:B" })), 400, /gamma/],
      ["unknown asset", post(url, body({ to: "beta:ZZZ" })), 400, /ZZZ/],
      ["malformed route", post(url, body({ from: "alpha" })), 400, /from: "alpha" is not of the form <chain>:<ASSET>/],
      ["zero amount", post(url, body({ amount: "0" })), 400, /amount/],
      ["amount with exponent", post(url, body({ amount: "1e3" })), 400, /amount/],
      ["non-hex hashlock", post(url, body({ hashlock: "0x" + "zz".repeat(32) })), 400, /hashlock: must be 32 bytes/],
      ["hashlock without 0x", post(url, body({ hashlock: "ab".repeat(32) })), 400, /hashlock: must be 32 bytes/],
      ["relayer as the user", post(url, body({ userFrom: RELAYER })), 400, /userFrom: is the relayer's own account/],
      ["huge body", raw(JSON.stringify({ pad: "x".repeat(70_000) })), 413, /larger than/],
    ];
    for (const [what, p, status, message] of cases) {
      const res = await p;
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.message, message, what);
    }
    assert.equal(stored(), 0, "nothing stored by any bad request");

    const unknown = await http(`${rig.daemon.api.url}/nope`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "NOT_FOUND");
    const wrongMethod = await http(`${rig.daemon.api.url}/swaps/${"a".repeat(24)}`, { method: "DELETE" });
    assert.equal(wrongMethod.status, 405);
    assert.equal((await http(`${rig.daemon.api.url}/swaps?state=bogus`)).status, 400);
    assert.equal((await http(`${rig.daemon.api.url}/swaps?limit=0`)).status, 400);
    assert.equal((await http(`${rig.daemon.api.url}/swaps?colour=red`)).status, 400);

    const b = body();
    assert.equal((await post(url, b)).status, 201);
    const dup = await post(url, { ...b, amount: "6" });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, "DUPLICATE_HASHLOCK");
    const retried = await post(url, b);
    assert.equal(retried.status, 409, "an exact retry of a stored request is refused too, not stored twice");
    assert.equal(stored(), 1, "the duplicate was not stored");
    assert.equal(rig.daemon.store.history(rig.daemon.store.list({})[0]!.id).length, 1);
  });

  it("swap history filters by state, route, tenant and creation time", async () => {
    rig = await startRig();
    const url = rig.daemon.api.url;
    const t0 = Date.now();
    const a = await lockedSwap(rig);
    await until("locked", () => rig!.daemon.store.get(a.id)?.state === "relayer_locked");
    const b = await post(`${url}/swaps`, body({ from: "beta:B", to: "alpha:A", amount: "3" }));
    assert.equal(b.status, 201);
    const ids = async (q: string) => ((await http(`${url}/swaps${q}`)).body as { id: string }[]).map((s) => s.id).sort();
    assert.deepEqual(await ids(""), [a.id, b.body.id].sort());
    assert.deepEqual(await ids("?state=relayer_locked"), [a.id]);
    assert.deepEqual(await ids(`?route=${encodeURIComponent("beta:B->alpha:A")}`), [b.body.id]);
    assert.deepEqual(await ids("?tenant=acme"), [a.id, b.body.id].sort());
    assert.deepEqual(await ids("?tenant=other"), []);
    assert.deepEqual(await ids(`?since=${new Date(t0 - 1000).toISOString()}`), [a.id, b.body.id].sort());
    assert.deepEqual(await ids(`?until=${Math.floor(t0 / 1000) - 5}`), []);
    assert.deepEqual(await ids("?limit=1"), [b.body.id]);
    const one = await http(`${url}/swaps/${a.id}`);
    assert.deepEqual(
      one.body.history.map((h: { to: string }) => h.to),
      ["awaiting_user_lock", "relayer_locking", "relayer_locking", "relayer_locked"],
    );
    assert.ok(one.body.history.some((h: { txId: string | null; chain: string | null }) => h.txId && h.chain === "beta"), "history names the chain and tx of the counter-lock");
  });

  it("GET /events streams each state change of a swap as server-sent events", async () => {
    rig = await startRig();
    const url = new URL(`${rig.daemon.api.url}/events`);
    const events: { id: string; state: string; seq: number }[] = [];
    let text = "";
    const req = request({ host: url.hostname, port: url.port, path: "/events", method: "GET" });
    const opened = new Promise<void>((resolve, reject) => {
      req.on("response", (res) => {
        assert.equal(res.headers["content-type"], "text/event-stream");
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
          for (;;) {
            const i = text.indexOf("\n\n");
            if (i < 0) break;
            const block = text.slice(0, i);
            text = text.slice(i + 2);
            const data = /^data: (.*)$/m.exec(block);
            if (data && /^event: swap$/m.test(block)) events.push(JSON.parse(data[1]!));
          }
        });
        resolve();
      });
      req.on("error", reject);
    });
    req.end();
    await opened;
    const s = await lockedSwap(rig);
    const locked = await until("locked", () => {
      const x = rig!.daemon.store.get(s.id);
      return x?.state === "relayer_locked" ? x : null;
    });
    rig.beta.claimAs(USER, locked.counterLock.lockId, s.preimage);
    await until("completed event", () => events.some((e) => e.id === s.id && e.state === "completed"));
    req.destroy();
    const states = events.filter((e) => e.id === s.id).map((e) => e.state);
    assert.deepEqual(states.slice(0, 2), ["awaiting_user_lock", "relayer_locking"]);
    assert.deepEqual(states.slice(-3), ["relayer_claiming", "relayer_claiming", "completed"]);
    assert.ok(!JSON.stringify(events).includes(s.preimage.slice(2)), "the stream carries states, not secrets");
    assert.equal((await http(`${rig.daemon.api.url}/events?swap=zz`)).status, 400);
  });
});
