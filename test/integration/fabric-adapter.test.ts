/**
 * FabricLedger (chains/fabric/adapter.ts) against the embedded network, through the real
 * fabric-gateway client: locks, claims, refunds, verified events from signed blocks, typed
 * errors, conflict retries, a commit-status check by tx id before any resubmission (through a
 * gateway proxy that loses a Submit or its answer), and a peer restart while locks are being
 * committed.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError, LedgerError, VerificationError } from "../../chains/errors.ts";
import { FabricLedger, type FabricLedgerOptions } from "../../chains/fabric/adapter.ts";
import { CHAINCODE_NAME, startFabricNode, type FabricNode } from "../../chains/fabric/devnet.ts";
import { loadOrCreateOrg, type Identity } from "../../chains/fabric/identity.ts";
import type { Hex, LedgerEvent } from "../../chains/ledger.ts";
import { eventually } from "./support/eventually.ts";
import { startGatewayProxy, type GrpcProxy } from "./support/forging-proxies.ts";
import { assertNoEnvelopeOrderedTwice, assertPeerAwayFailure, stopPeerAbruptly, txsSince } from "./support/fabric-submissions.ts";

const ENDORSE = "/gateway.Gateway/Endorse";
const SUBMIT = "/gateway.Gateway/Submit";
const COMMIT_STATUS = "/gateway.Gateway/CommitStatus";

const secret = () => {
  const preimage = ("0x" + randomBytes(32).toString("hex")) as Hex;
  return { preimage, hashlock: ("0x" + createHash("sha256").update(Buffer.from(preimage.slice(2), "hex")).digest("hex")) as Hex };
};

async function rejects(p: Promise<unknown>, check: (err: unknown) => void): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, "expected a rejection");
  check(caught);
}

describe("FabricLedger adapter on the embedded network", function () {
  this.timeout(60_000);
  let dir: string;
  let node: FabricNode;
  let port: number;
  const adapters: FabricLedger[] = [];
  const open = (id: Identity, extra: Partial<FabricLedgerOptions> = {}) => {
    const a = new FabricLedger({
      name: "fabric",
      gatewayAddress: `127.0.0.1:${port}`,
      channel: "isthmus",
      chaincode: CHAINCODE_NAME,
      mspId: id.mspId,
      certPem: id.certPem,
      keyPem: id.keyPem,
      ordererCertPem: node.network.ordererCertPem,
      ...extra,
    });
    adapters.push(a);
    return a;
  };
  let issuer: FabricLedger, relayer: FabricLedger, user: FabricLedger;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-adapter-"));
    node = await startFabricNode({ dir, batchTimeoutMs: 30 });
    port = Number(node.network.address.split(":")[1]);
    issuer = open(node.network.identity("Org1MSP", "issuer"));
    relayer = open(node.network.identity("Org1MSP", "relayer"));
    user = open(node.network.identity("Org2MSP", "carol"));
    await issuer.mint("KRW", relayer.address, 1_000_000n);
    await issuer.mint("KRW", user.address, 1_000_000n);
  });

  after(async () => {
    for (const a of adapters) await a.close();
    await node?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("user locks for the relayer; getLock is verified; the relayer claims; events carry the preimage", async () => {
    const { preimage, hashlock } = secret();
    const head = await user.head();
    assert.ok(Math.abs(head.finalizedTime - Date.now() / 1000) < 5);
    const params = { receiver: relayer.address, asset: "KRW", amount: 12_345n, hashlock, timelock: head.finalizedTime + 600 };
    const expectId = relayer.lockIdFor(params, user.address);
    const r = await user.lock(params);
    assert.equal(r.lockId, expectId);
    assert.match(r.txId, /^0x[0-9a-f]{64}$/);
    assert.equal(await user.balance("KRW"), 1_000_000n - 12_345n);
    const got = await relayer.getLock(r.lockId);
    assert.ok(got);
    assert.equal(got.lock.status, "locked");
    assert.equal(got.lock.sender, user.address);
    assert.equal(got.lock.amount, 12_345n);
    assert.equal(got.verified.kind, "block-proof");
    assert.equal(got.verified.height, r.height);
    const c = await relayer.claim(r.lockId, preimage);
    const evs = await relayer.events(r.height, c.height);
    const mine = evs.filter((e) => (e.kind === "locked" ? e.lock.lockId : e.lockId) === r.lockId);
    assert.deepEqual(mine.map((e) => e.kind), ["locked", "claimed"]);
    assert.equal((mine[1] as Extract<LedgerEvent, { kind: "claimed" }>).preimage, preimage);
    assert.equal(mine[0]!.txId, r.txId);
    const after = await user.getLock(r.lockId);
    assert.equal(after!.lock.status, "claimed");
    assert.equal(await relayer.balance("KRW"), 1_000_000n + 12_345n);
  });

  it("refunds after the timelock, refuses a duplicate lock (LOCK_EXISTS) and an early refund with typed errors", async () => {
    const { hashlock } = secret();
    const now = (await relayer.head()).finalizedTime;
    const params = { receiver: user.address, asset: "KRW", amount: 50n, hashlock, timelock: now + 2 };
    const r = await relayer.lock(params);
    await rejects(relayer.lock(params), (err) => {
      assert.ok(err instanceof LedgerError);
      assert.equal(err.code, "LOCK_EXISTS");
    });
    await rejects(relayer.refund(r.lockId), (err) => assert.equal((err as LedgerError).code, "LOCK_NOT_EXPIRED"));
    await new Promise((res) => setTimeout(res, 2_200));
    const f = await relayer.refund(r.lockId);
    const evs = await relayer.events(f.height, f.height);
    assert.deepEqual(evs.map((e) => e.kind), ["refunded"]);
    assert.equal((await relayer.getLock(r.lockId))!.lock.status, "refunded");
    await rejects(relayer.refund(r.lockId), (err) => assert.equal((err as LedgerError).code, "LOCK_NOT_OPEN"));
    assert.equal(await relayer.getLock(("0x" + "ab".repeat(32)) as Hex), null);
    assert.throws(() => relayer.asset("ETH"), InvalidInputError);
  });

  it("re-endorses after an MVCC conflict, so concurrent sends from one identity all land", async () => {
    const before = await user.balance("KRW");
    await Promise.all([1n, 2n, 3n].map((v) => user.transfer("KRW", relayer.address, v)));
    assert.equal(await user.balance("KRW"), before - 6n);
  });

  it("refuses blocks signed by an orderer it does not trust", async () => {
    const other = await loadOrCreateOrg(mkdtempSync(join(tmpdir(), "isthmus-ord2-")), { mspId: "OrdererMSP", domain: "example.com", identities: [{ name: "orderer0", role: "orderer" }] });
    const a = open(node.network.identity("Org1MSP", "bob"), { ordererCertPem: other.identities.get("orderer0")!.certPem });
    await rejects(a.events(1, 1), (err) => {
      assert.ok(err instanceof VerificationError);
      assert.match(err.message, /orderer signature/);
    });
  });

  /**
   * One lock by carol through a gateway proxy whose first Submit suffers `fault`; returns
   * the proxy's call counts, after checking the ledger holds that lock once, from one tx.
   */
  async function lockThroughFaultyProxy(fault: "drop" | "lose-answer"): Promise<GrpcProxy> {
    const proxy = await startGatewayProxy(node.network.address);
    const a = open(node.network.identity("Org2MSP", "carol"), { gatewayAddress: proxy.address });
    try {
      let armed = true;
      proxy.fault = (path) => (path === SUBMIT && armed ? ((armed = false), fault) : null);
      const fromBlock = node.network.store.height;
      const { hashlock } = secret();
      const now = (await relayer.head()).finalizedTime;
      const r = await a.lock({ receiver: relayer.address, asset: "KRW", amount: 77n, hashlock, timelock: now + 600 });
      assert.equal(armed, false, "the fault was used");
      const got = await relayer.getLock(r.lockId);
      assert.equal(got?.lock.status, "locked");
      assert.equal(got.lock.amount, 77n);
      const head = (await relayer.head()).finalizedHeight;
      const locked = (await relayer.events(fromBlock, head)).filter((e) => e.kind === "locked" && e.lock.hashlock === hashlock);
      assert.deepEqual(locked.map((e) => e.txId), [r.txId], "one lock on the ledger, from the tx the call reported");
      const txs = txsSince(node.network, fromBlock).filter((t) => `0x${t.txId}` === r.txId);
      assert.deepEqual(txs.map((t) => t.code), [0], "the tx is in one block, VALID");
      assertNoEnvelopeOrderedTwice(node.network, fromBlock);
      return proxy;
    } finally {
      await a.close();
      await proxy.close();
    }
  }

  it("a Submit whose answer is lost is not sent again: the tx id's commit status shows it committed", async () => {
    const proxy = await lockThroughFaultyProxy("lose-answer");
    assert.equal(proxy.received.get(ENDORSE), 1, "endorsed once");
    assert.ok((proxy.received.get(COMMIT_STATUS) ?? 0) >= 1, "asked CommitStatus for the tx id");
    assert.equal(proxy.received.get(SUBMIT), 1, "submitted once: the status check found it VALID");
  });

  it("a Submit that never reached the orderer is resubmitted once, after the status check finds nothing", async () => {
    const proxy = await lockThroughFaultyProxy("drop");
    assert.equal(proxy.received.get(ENDORSE), 1, "endorsed once: the same signed envelope is resubmitted");
    assert.equal(proxy.received.get(SUBMIT), 2, "submitted twice, the first dropped");
    assert.equal(proxy.forwarded.get(SUBMIT), 1, "one Submit reached the network");
    assert.ok((proxy.received.get(COMMIT_STATUS) ?? 0) >= 2, "a status check before resubmitting, then the commit wait");
  });

  it("loses no lock event when the peer restarts while locks are being committed", async () => {
    const start = (await relayer.head()).finalizedHeight + 1;
    const now = (await user.head()).finalizedTime;
    const sends = Array.from({ length: 6 }, (_, i) => user.lock({ receiver: relayer.address, asset: "KRW", amount: BigInt(100 + i), hashlock: secret().hashlock, timelock: now + 900 }));
    const settled = Promise.allSettled(sends);
    // Stop once the first of them committed: the others are being retried (MVCC) and submitted.
    const h0 = node.network.store.height;
    await eventually("a first block of these locks", 30_000, async () => (node.network.store.height > h0 ? true : undefined), 2);
    await stopPeerAbruptly(node);
    node = await startFabricNode({ dir, port, batchTimeoutMs: 30 });
    const results = await settled;
    const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    for (const r of results) if (r.status === "rejected") assertPeerAwayFailure(r.reason);
    assert.ok(ok.length >= 1, "some locks committed");
    assertNoEnvelopeOrderedTwice(node.network, start);
    const head = (await relayer.head()).finalizedHeight;
    const seen = new Set((await relayer.events(start, head)).filter((e) => e.kind === "locked").map((e) => (e as Extract<LedgerEvent, { kind: "locked" }>).lock.lockId));
    for (const r of ok) assert.ok(seen.has(r.lockId), `event for ${r.lockId}`);
    // and every lock the ledger holds has its event
    for (const id of seen) assert.equal((await relayer.getLock(id))!.lock.status, "locked");
  });
});
