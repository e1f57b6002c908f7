/**
 * The relayer's Fabric watch: chaincode events through fabric-gateway's ChaincodeEvents with a
 * checkpoint persisted in the relayer's SQLite store (FabricLedger.eventsFrom + SwapStore event
 * checkpoints), consumed the way the engine's scanStream does: handle, then store the
 * checkpoint. A peer restart while locks are being committed loses no event, and a relayer
 * restart resumes exactly once.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LedgerError, VerificationError } from "../../chains/errors.ts";
import { FabricLedger } from "../../chains/fabric/adapter.ts";
import { CHAINCODE_NAME, startFabricNode, type FabricNode } from "../../chains/fabric/devnet.ts";
import { loadOrCreateOrg, type Identity } from "../../chains/fabric/identity.ts";
import type { EventCheckpoint, Hex, LedgerEvent } from "../../chains/ledger.ts";
import { SwapStore } from "../../relayer/store.ts";
import { assertNoEnvelopeOrderedTwice, assertPeerAwayFailure, stopPeerAbruptly } from "./support/fabric-submissions.ts";

const hashlock = () => ("0x" + createHash("sha256").update(randomBytes(32)).digest("hex")) as Hex;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lockIdOf = (e: LedgerEvent) => (e.kind === "locked" ? e.lock.lockId : e.lockId);

describe("Fabric watch: chaincode events with persisted checkpoints", function () {
  this.timeout(120_000);
  let dir: string;
  let node: FabricNode;
  let port: number;
  const adapters: FabricLedger[] = [];
  const open = (id: Identity) => {
    const a = new FabricLedger({
      name: "fabric",
      gatewayAddress: `127.0.0.1:${port}`,
      channel: "isthmus",
      chaincode: CHAINCODE_NAME,
      mspId: id.mspId,
      certPem: id.certPem,
      keyPem: id.keyPem,
      ordererCertPem: node.network.ordererCertPem,
    });
    adapters.push(a);
    return a;
  };
  let relayerId: Identity;
  /** Four senders: one identity's concurrent locks would conflict on its balance (MVCC). */
  let users: FabricLedger[];
  let relayerAddress: Hex;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-events-"));
    node = await startFabricNode({ dir: join(dir, "net"), batchTimeoutMs: 30 });
    port = Number(node.network.address.split(":")[1]);
    relayerId = node.network.identity("Org1MSP", "relayer");
    const issuer = open(node.network.identity("Org1MSP", "issuer"));
    users = [["Org1MSP", "alice"], ["Org1MSP", "bob"], ["Org2MSP", "carol"], ["Org2MSP", "dave"]].map(([msp, name]) => open(node.network.identity(msp!, name!)));
    relayerAddress = open(relayerId).address;
    for (const u of users) await issuer.mint("KRW", u.address, 1_000_000n);
  });

  after(async () => {
    for (const a of adapters) await a.close();
    await node?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * One watcher pass as the engine runs it: the head, then the stream's events up to it,
   * each handled (recorded) before its checkpoint is stored. Errors (peer down) are retried
   * by the caller, as the engine backs a failing chain off.
   */
  async function pass(watcher: FabricLedger, store: SwapStore, handled: LedgerEvent[], stopAfter = Infinity): Promise<void> {
    const head = await watcher.head();
    const from = store.getEventCheckpoint("fabric")!;
    const batch = await watcher.eventsFrom(from, head.finalizedHeight);
    for (const { event, next } of batch.events) {
      if (handled.length >= stopAfter) return; // a crash before this event's checkpoint was stored
      handled.push(event);
      store.setEventCheckpoint("fabric", next);
    }
    store.setEventCheckpoint("fabric", batch.next);
  }

  /** The head, once the peer answers again (a client's channel backs off after a restart). */
  async function headOf(a: FabricLedger) {
    for (let i = 0; ; i++) {
      try {
        return await a.head();
      } catch (err) {
        if (!(err instanceof LedgerError) || i >= 50) throw err;
        await sleep(200);
      }
    }
  }

  /** `perUser` locks to the relayer from each sender, senders in parallel. */
  async function lockMany(perUser: number, amountBase: bigint): Promise<PromiseSettledResult<{ lockId: Hex }>[]> {
    const now = (await headOf(users[0]!)).finalizedTime;
    const rounds = await Promise.all(
      users.map(async (u, k) => {
        const out: PromiseSettledResult<{ lockId: Hex }>[] = [];
        for (let i = 0; i < perUser; i++) {
          const params = { receiver: relayerAddress, asset: "KRW", amount: amountBase + BigInt(10 * k + i), hashlock: hashlock(), timelock: now + 900 };
          out.push(await u.lock(params).then((value) => ({ status: "fulfilled" as const, value }), (reason: unknown) => ({ status: "rejected" as const, reason })));
        }
        return out;
      }),
    );
    return rounds.flat();
  }

  /** Every lock to the relayer the ledger holds since `fromBlock`, from verified blocks. */
  async function committedLocks(watcher: FabricLedger, fromBlock: number): Promise<string[]> {
    const head = (await headOf(watcher)).finalizedHeight;
    return (await watcher.events(fromBlock, head)).filter((e) => e.kind === "locked" && e.lock.receiver === relayerAddress).map(lockIdOf);
  }

  it("a peer restart while lock events are being committed loses no event and duplicates none", async () => {
    const store = new SwapStore(join(dir, "relayer-a.sqlite"));
    const watcher = open(relayerId);
    const start = (await watcher.head()).finalizedHeight + 1;
    store.setEventCheckpoint("fabric", { block: start, afterTxId: null });
    const handled: LedgerEvent[] = [];
    let watching = true;
    let failures = 0;
    const loop = (async () => {
      while (watching) {
        await pass(watcher, store, handled).catch((err: unknown) => {
          assert.ok(err instanceof LedgerError, `a typed error while the peer is down: ${String(err)}`);
          failures++;
        });
        await sleep(50);
      }
    })();

    const first = lockMany(2, 100n);
    await sleep(150);
    await stopPeerAbruptly(node); // the peer goes away with locks in flight and the stream open
    await sleep(300);
    node = await startFabricNode({ dir: join(dir, "net"), port, batchTimeoutMs: 30 });
    const results = [...(await first), ...(await lockMany(1, 200n))];
    for (const r of results) if (r.status === "rejected") assertPeerAwayFailure(r.reason);
    assertNoEnvelopeOrderedTwice(node.network, start);
    assert.ok(results.slice(-4).every((r) => r.status === "fulfilled"), "the locks after the restart committed");

    const expected = await committedLocks(watcher, start);
    const deadline = Date.now() + 30_000;
    while (handled.length < expected.length && Date.now() < deadline) await sleep(100);
    await sleep(500); // a duplicate would show up here
    watching = false;
    await loop;
    store.close();

    const got = handled.filter((e) => e.kind === "locked").map(lockIdOf);
    assert.equal(new Set(got).size, got.length, "no event handled twice");
    assert.deepEqual([...got].sort(), [...expected].sort(), "every committed lock's event handled once");
    for (const r of results) if (r.status === "fulfilled") assert.ok(got.includes(r.value.lockId), `event of ${r.value.lockId}`);
    assert.ok(failures >= 1, "the watcher saw the peer go away");
  });

  it("a relayer restart resumes from the stored checkpoint exactly once", async () => {
    const file = join(dir, "relayer-b.sqlite");
    let store = new SwapStore(file);
    let watcher = open(relayerId);
    const start = (await watcher.head()).finalizedHeight + 1;
    store.setEventCheckpoint("fabric", { block: start, afterTxId: null });
    const results = await lockMany(2, 300n);
    assert.ok(results.every((r) => r.status === "fulfilled"), String(results.map((r) => (r.status === "rejected" ? r.reason : "ok"))));
    const expected = await committedLocks(watcher, start);
    assert.equal(expected.length, 8);

    // First relayer process: handles 3 events, then dies before storing the 4th's checkpoint.
    const handled: LedgerEvent[] = [];
    for (let i = 0; i < 50 && handled.length < 3; i++) {
      await pass(watcher, store, handled, 3);
      await sleep(100);
    }
    assert.equal(handled.length, 3);
    const stored: EventCheckpoint = store.getEventCheckpoint("fabric")!;
    assert.equal(`0x${stored.afterTxId}`, handled[2]!.txId, "the checkpoint is the last handled event");
    await watcher.close();
    store.close();

    // Second process: a new store handle and a new gateway connection resume after it.
    store = new SwapStore(file);
    watcher = open(relayerId);
    for (let i = 0; i < 100 && handled.length < 8; i++) {
      await pass(watcher, store, handled);
      await sleep(100);
    }
    await sleep(300);
    await pass(watcher, store, handled);
    store.close();
    const got = handled.map(lockIdOf);
    assert.deepEqual(got, expected, "each event once, in commit order, across the restart");
  });

  it("refuses a malformed checkpoint with a typed error", async () => {
    const watcher = open(relayerId);
    await assert.rejects(watcher.eventsFrom({ block: -1, afterTxId: null }, 10), /not a valid position/);
    await assert.rejects(watcher.eventsFrom({ block: 1, afterTxId: "0xzz" }, 10), /not a valid position/);
  });

  it("an event whose block the trusted orderer did not sign is refused", async () => {
    // Same stream, but the adapter trusts another orderer key: the event cannot be matched to a verified block.
    const other = new FabricLedger({
      name: "fabric",
      gatewayAddress: `127.0.0.1:${port}`,
      channel: "isthmus",
      chaincode: CHAINCODE_NAME,
      mspId: relayerId.mspId,
      certPem: relayerId.certPem,
      keyPem: relayerId.keyPem,
      ordererCertPem: node.network.identity("Org1MSP", "relayer").certPem,
    });
    adapters.push(other);
    const head = (await other.head()).finalizedHeight;
    let err: unknown = null;
    for (let i = 0; i < 50 && err === null; i++) {
      await other.eventsFrom({ block: 1, afterTxId: null }, head).then(
        (b) => assert.equal(b.events.length, 0, "no event is handed out unverified"),
        (e: unknown) => (err = e),
      );
      if (err === null) await sleep(100);
    }
    assert.ok(err instanceof VerificationError, String(err));
  });

  it("a refused subscription (identity from an unknown CA) is reported as a typed error, not retried in silence", async () => {
    const stranger = (await loadOrCreateOrg(join(dir, "stranger"), { mspId: "Org1MSP", domain: "org1.example.com", identities: [{ name: "mallory", role: "client" }] })).identities.get("mallory")!;
    const watcher = open(stranger);
    let err: unknown = null;
    for (let i = 0; i < 50 && err === null; i++) {
      await watcher.eventsFrom({ block: 1, afterTxId: null }, 1).then(
        (b) => assert.equal(b.events.length, 0),
        (e: unknown) => (err = e),
      );
      if (err === null) await sleep(100);
    }
    assert.ok(err instanceof LedgerError, String(err));
    assert.match(err.message, /unknown authority/);
  });
});
