/**
 * The embedded network's solo orderer and commit notification, through the real
 * fabric-gateway client: blocks are cut when BatchSize.MaxMessageCount transactions are
 * queued or when BatchTimeout expires, whichever comes first; CommitStatus calls waiting for a
 * transaction are answered when its block commits (several callers for one transaction, a
 * caller that gives up, and transactions that commit in one block with different codes).
 */
import assert from "node:assert/strict";
import { common, peer } from "@hyperledger/fabric-protos";
import type { Commit, Contract, Gateway, Transaction } from "@hyperledger/fabric-gateway";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeBlockTxs, filteredBlockOf } from "../../chains/fabric/block.ts";
import { CHAINCODE_NAME, startFabricNode, type FabricNode } from "../../chains/fabric/devnet.ts";
import { connectGateway, DEFAULT_DEADLINES, type GatewayConnection } from "../../chains/fabric/gateway-client.ts";

const CH = "isthmus";
let recipient = 0;
const freshAddress = () => "0x" + (Date.now() * 1000 + recipient++).toString(16).padStart(40, "0");

/** The next block to commit (its number), from the network's own block event. */
const nextBlock = (node: FabricNode) => new Promise<number>((resolve) => node.network.events.once("block", (b) => resolve(b.getHeader().getNumber())));

interface Client {
  readonly gateway: Gateway;
  readonly contract: Contract;
}

async function withNetwork(opts: { batchTimeoutMs: number; batchMaxMessages: number }, body: (node: FabricNode, connect: (commitStatusMs?: number) => Client) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-order-"));
  const node = await startFabricNode({ dir, ...opts });
  const conns: GatewayConnection[] = [];
  try {
    const issuer = node.network.identity("Org1MSP", "issuer");
    await body(node, (commitStatusMs = DEFAULT_DEADLINES.commitStatusMs) => {
      const c = connectGateway(node.network.address, issuer, { ...DEFAULT_DEADLINES, commitStatusMs });
      conns.push(c);
      return { gateway: c.gateway, contract: c.gateway.getNetwork(CH).getContract(CHAINCODE_NAME) };
    });
  } finally {
    for (const c of conns) c.close();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const endorseMints = (contract: Contract, n: number): Promise<Transaction[]> =>
  Promise.all(Array.from({ length: n }, () => contract.newProposal("Mint", { arguments: ["KRW", freshAddress(), "5"] }).endorse()));

describe("embedded Fabric orderer: block cutting and commit notification", function () {
  this.timeout(90_000);

  it("cuts a block as soon as BatchSize.MaxMessageCount transactions are queued; the rest waits for BatchTimeout", async () => {
    await withNetwork({ batchTimeoutMs: 6_000, batchMaxMessages: 3 }, async (node, connect) => {
      const { contract } = connect();
      const txs = await endorseMints(contract, 7);
      const h0 = node.network.height;
      const commits = await Promise.all(txs.map((t) => t.submit()));
      // two full blocks are cut without waiting for the 6 s timeout …
      while (node.network.height < h0 + 2) await nextBlock(node);
      const full = [h0, h0 + 1].map((n) => decodeBlockTxs(node.network.getBlock(n)!));
      assert.deepEqual(
        full.map((b) => b.length),
        [3, 3],
      );
      const ids = new Set(txs.map((t) => t.getTransactionId()));
      for (const t of full.flat()) assert.ok(ids.has(t.txId) && t.code === peer.TxValidationCode.VALID);
      // … while the seventh is still queued: no third block, no commit record yet
      const pending = txs.filter((t) => !full.flat().some((b) => b.txId === t.getTransactionId()));
      assert.equal(pending.length, 1);
      assert.equal(node.network.height, h0 + 2);
      assert.equal(node.network.store.getTx(pending[0]!.getTransactionId()), null);
      // the timeout cuts it alone
      const statuses = await Promise.all(commits.map((c) => c.getStatus()));
      assert.ok(statuses.every((s) => s.successful));
      assert.equal(node.network.height, h0 + 3);
      const last = decodeBlockTxs(node.network.getBlock(h0 + 2)!);
      assert.deepEqual(
        last.map((t) => t.txId),
        [pending[0]!.getTransactionId()],
      );
    });
  });

  it("cuts what arrived within BatchTimeout into one block when fewer than MaxMessageCount are queued", async () => {
    await withNetwork({ batchTimeoutMs: 3_000, batchMaxMessages: 500 }, async (node, connect) => {
      const { contract } = connect();
      const txs = await endorseMints(contract, 4);
      const h0 = node.network.height;
      const commits = await Promise.all(txs.map((t) => t.submit()));
      assert.equal(node.network.height, h0, "nothing is cut before the timeout with a batch below MaxMessageCount");
      const statuses = await Promise.all(commits.map((c) => c.getStatus()));
      assert.deepEqual(
        statuses.map((s) => [s.blockNumber, s.code]),
        txs.map(() => [BigInt(h0), peer.TxValidationCode.VALID]),
      );
      assert.equal(node.network.height, h0 + 1);
      assert.equal(decodeBlockTxs(node.network.getBlock(h0)!).length, 4);
    });
  });

  it("answers every CommitStatus waiting for a transaction when its block commits, after one caller gave up", async () => {
    await withNetwork({ batchTimeoutMs: 3_000, batchMaxMessages: 500 }, async (node, connect) => {
      const { contract } = connect();
      const [tx] = await endorseMints(contract, 1);
      const commit: Commit = await tx!.submit();
      // the same signed commit status request, sent by other clients
      const commitOf = (c: Client) => c.gateway.newCommit(commit.getBytes());
      // a caller whose deadline passes before the block is cut gets DEADLINE_EXCEEDED …
      await assert.rejects(commitOf(connect(300)).getStatus(), (err: Error & { code?: number }) => {
        assert.equal(err.name, "CommitStatusError");
        assert.equal(err.code, 4); // DEADLINE_EXCEEDED
        return true;
      });
      // … and the others, several for the same transaction, get its code and block
      const [a, b, c] = await Promise.all([commit.getStatus(), commitOf(connect()).getStatus(), commitOf(connect()).getStatus()]);
      for (const s of [a, b, c]) {
        assert.equal(s.code, peer.TxValidationCode.VALID);
        assert.equal(s.transactionId, tx!.getTransactionId());
      }
      assert.equal(a.blockNumber, b.blockNumber);
      assert.equal(a.blockNumber, c.blockNumber);
      // a status asked for after the commit is answered from the ledger
      assert.equal((await commitOf(connect()).getStatus()).blockNumber, a.blockNumber);
    });
  });

  it("reports a committed block (commit status, height, block events) only once its flush has completed", async () => {
    await withNetwork({ batchTimeoutMs: 50, batchMaxMessages: 500 }, async (node, connect) => {
      const { contract, gateway } = connect();
      const store = node.network.store;
      // hold the next WAL sync until the test releases it
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const flush = store.flush.bind(store);
      store.flush = () => held.then(flush);
      const h0 = node.network.height;
      let blockEvents = 0;
      node.network.events.on("block", () => blockEvents++);
      const [tx] = await endorseMints(contract, 1);
      const commit = await tx!.submit();
      const status = commit.getStatus();
      let answered = false;
      void status.then(() => (answered = true));
      while (store.height === h0) await new Promise((r) => setTimeout(r, 10));
      // committed to SQLite, not yet synced: nobody is told
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(answered, false, "no commit status before the sync");
      assert.equal(blockEvents, 0, "no block event before the sync");
      assert.equal(node.network.height, h0);
      assert.equal(node.network.getBlock(h0), null);
      const info = await gateway.getNetwork(CH).getContract("qscc").evaluateTransaction("GetChainInfo", CH);
      assert.equal(common.BlockchainInfo.deserializeBinary(info).getHeight(), h0);
      release();
      const s = await status;
      assert.equal(s.code, peer.TxValidationCode.VALID);
      assert.equal(s.blockNumber, BigInt(h0));
      assert.equal(node.network.height, h0 + 1);
      assert.equal(blockEvents, 1);
    });
  });

  it("an evaluation answers from a block's state only once the block is durable, and not at all after its sync failed", async () => {
    await withNetwork({ batchTimeoutMs: 50, batchMaxMessages: 500 }, async (node, connect) => {
      const { contract } = connect();
      const store = node.network.store;
      const balanceOf = (addr: string) => contract.evaluateTransaction("BalanceOf", "KRW", addr).then((b) => Buffer.from(b).toString());
      const flush = store.flush.bind(store);
      // 1. a held sync: the minted balance is committed to SQLite but not on disk
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      store.flush = () => held.then(flush);
      const first = freshAddress();
      const [t1] = await contract.newProposal("Mint", { arguments: ["KRW", first, "5"] }).endorse().then((t) => [t]);
      const h0 = store.height;
      const s1 = (await t1!.submit()).getStatus();
      while (store.height === h0) await new Promise((r) => setTimeout(r, 10));
      let answer: string | null = null;
      const evaluated = balanceOf(first).then((b) => (answer = b));
      try {
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(answer, null, "no answer resting on a block that is not yet durable");
      } finally {
        release(); // a held sync would also hold the network's close
      }
      assert.equal(await evaluated, "5", "answered once the block is synced");
      assert.equal((await s1).code, peer.TxValidationCode.VALID);
      // 2. a failed sync: the block stays in SQLite, its durability unknown
      store.flush = () => Promise.reject(new Error("EIO: injected fsync failure"));
      node.network.events.on("error", () => {}); // the network reports the failure here
      const second = freshAddress();
      const [t2] = await contract.newProposal("Mint", { arguments: ["KRW", second, "7"] }).endorse().then((t) => [t]);
      const h1 = store.height;
      await t2!.submit();
      while (store.height === h1) await new Promise((r) => setTimeout(r, 10));
      await assert.rejects(balanceOf(second), (err: Error & { code?: number }) => {
        assert.equal(err.code, 14 /* UNAVAILABLE */, err.message);
        return true;
      });
    });
  });

  it("a failed sync stops ordering and reporting, with no one listening for errors: Submit answers UNAVAILABLE, nothing crashes, close completes", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", record);
    try {
      let closed = false;
      await withNetwork({ batchTimeoutMs: 50, batchMaxMessages: 500 }, async (node, connect) => {
        const { contract } = connect(1_500);
        const store = node.network.store;
        store.flush = () => Promise.reject(new Error("EIO: injected fsync failure"));
        assert.equal(node.network.events.listenerCount("error"), 0);
        const [t1, t2] = await endorseMints(contract, 2);
        const h0 = store.height;
        const commit = await t1!.submit();
        while (store.height === h0) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 100)); // the failed sync is handled
        assert.deepEqual(unhandled, [], "the failure is the network's to handle, not an unhandled rejection");
        assert.equal(node.network.height, h0, "the block whose sync failed is never reported");
        await assert.rejects(commit.getStatus(), "no commit status for it");
        await assert.rejects(t2!.submit(), (err: Error & { code?: number }) => {
          assert.equal(err.code, 14 /* UNAVAILABLE */, err.message);
          return true;
        });
        // nor is anything endorsed on state whose block may be gone after a restart
        await assert.rejects(endorseMints(contract, 1), (err: Error & { code?: number }) => {
          assert.equal(err.code, 14 /* UNAVAILABLE */, err.message);
          return true;
        });
        const closing = node.close().then(() => (closed = true));
        await Promise.race([closing, new Promise((r) => setTimeout(r, 10_000))]);
      });
      assert.equal(closed, true, "the network closes after a failed sync");
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", record);
    }
  });

  it("a block listener that throws is reported, and is not taken for a failed sync: later blocks are still reported", async () => {
    await withNetwork({ batchTimeoutMs: 50, batchMaxMessages: 500 }, async (node, connect) => {
      const { contract } = connect();
      const errors: Error[] = [];
      node.network.events.on("error", (e: Error) => errors.push(e));
      node.network.events.once("block", () => {
        throw new Error("a subscriber's bug");
      });
      const [t1] = await endorseMints(contract, 1);
      assert.equal((await (await t1!.submit()).getStatus()).code, peer.TxValidationCode.VALID);
      const [t2] = await endorseMints(contract, 1);
      const s2 = await (await t2!.submit()).getStatus();
      assert.equal(s2.code, peer.TxValidationCode.VALID, "ordering and reporting go on");
      assert.deepEqual(errors.map((e) => e.message), ["a subscriber's bug"]);
    });
  });

  it("two transactions waiting in one block get their own codes: VALID and MVCC_READ_CONFLICT; filtered blocks as stored", async () => {
    await withNetwork({ batchTimeoutMs: 2_000, batchMaxMessages: 500 }, async (node, connect) => {
      const { contract, gateway } = connect();
      const to = freshAddress();
      // both read the same balance key, so the second in the block conflicts with the first
      const [t1, t2] = await Promise.all([1, 2].map(() => contract.newProposal("Mint", { arguments: ["KRW", to, "1"] }).endorse()));
      const [c1, c2] = await Promise.all([t1!.submit(), t2!.submit()]);
      const [s1, s2] = await Promise.all([c1.getStatus(), c2.getStatus()]);
      assert.equal(s1.blockNumber, s2.blockNumber);
      assert.deepEqual([s1.code, s2.code].sort(), [peer.TxValidationCode.VALID, peer.TxValidationCode.MVCC_READ_CONFLICT].sort());
      assert.equal(node.network.store.getTx(t1!.getTransactionId())!.code, s1.code);
      assert.equal(node.network.store.getTx(t2!.getTransactionId())!.code, s2.code);
      // what the committer remembered of the block (served to event streams) is what decoding
      // the stored block gives, for the valid and the invalid transaction alike
      const stream = await gateway.getNetwork(CH).getFilteredBlockEvents({ startBlock: s1.blockNumber });
      try {
        for await (const fb of stream) {
          const stored = filteredBlockOf(node.network.getBlock(Number(s1.blockNumber))!, CH);
          assert.deepEqual(fb.toObject(), stored.toObject());
          assert.equal(fb.getFilteredTransactionsList().filter((t) => t.getTransactionActions()?.getChaincodeActionsList()[0]?.getChaincodeEvent()?.getEventName() === "Minted").length, 2);
          break;
        }
      } finally {
        stream.close();
      }
    });
  });
});
