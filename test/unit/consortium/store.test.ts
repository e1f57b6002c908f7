import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Chain } from "../../../chains/consortium/chain.ts";
import { startConsortiumDevnet } from "../../../chains/consortium/devnet.ts";
import { BlockStore, StoreError } from "../../../chains/consortium/store.ts";
import { committedToJson } from "../../../chains/consortium/block.ts";
import { decodeCommittedBinary, encodeCommittedBinary } from "../../../chains/consortium/block-binary.ts";
import { type Hex } from "../../../proofs/hex.ts";
import { signTx } from "../../../chains/consortium/tx.ts";
import { alice, bob, commitBlock, testGenesis, tx, until } from "./helpers.ts";

describe("consortium durability (SQLite)", function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "isthmus-consortium-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a restarted devnet replays its SQLite files to the same state and keeps producing blocks", async () => {
    const balances = [{ address: alice.address, asset: "KRW", amount: 1_000n }];
    const first = await startConsortiumDevnet({ dataDir: dir, blockIntervalMs: 100, balances, processes: false });
    const t = signTx(alice, { chainId: first.chainId, nonce: 0, body: { kind: "transfer", to: bob.address, asset: "KRW", amount: 300n } });
    first.nodes[0]!.submitTx(t.bytes);
    await until(() => first.nodes.every((n) => n.chain.txLocation(t.hash) !== undefined) && first.nodes[0]!.chain.height >= 4, 10_000, "the transfer");
    await first.stop();
    const before = first.nodes.map((n) => ({ height: n.chain.height, hash: n.chain.head.hash }));

    const second = await startConsortiumDevnet({ dataDir: dir, blockIntervalMs: 100, balances, processes: false });
    try {
      second.nodes.forEach((n, i) => {
        assert.ok(n.chain.height >= before[i]!.height, `validator ${i} reloaded every block it had`);
        assert.equal(n.chain.block(before[i]!.height)!.hash, before[i]!.hash);
        assert.equal(n.chain.balance(bob.address, "KRW"), 300n);
        assert.equal(n.chain.balance(alice.address, "KRW"), 700n);
        assert.equal(n.chain.state.nonce(alice.address), 1);
      });
      assert.deepEqual(second.genesis, first.genesis, "genesis.json reused");
      const resumedAt = second.nodes[0]!.chain.height;
      await until(() => second.nodes[0]!.chain.height >= resumedAt + 3, 10_000, "blocks after the restart");
    } finally {
      await second.stop();
    }
  });

  it("refuses a store whose blocks do not replay to their headers' roots", () => {
    const genesis = testGenesis();
    const file = join(dir, "v.sqlite");
    const chain = Chain.open({ genesis, store: new BlockStore(file) });
    commitBlock(chain, [tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n })], genesis.timeMs + 1000);
    commitBlock(chain, [], genesis.timeMs + 2000);
    chain.store.close();

    const db = new Database(file);
    const row = db.prepare<[], { data: Buffer }>("SELECT data FROM blocks WHERE height = 2").get()!;
    const decoded = decodeCommittedBinary(row.data);
    assert.ok(decoded.ok);
    const tampered = { ...decoded.block, header: { ...decoded.block.header, stateRoot: `0x${"00".repeat(32)}` as Hex } };
    db.prepare("UPDATE blocks SET data = ? WHERE height = 2").run(encodeCommittedBinary(tampered));
    db.close();

    const store = new BlockStore(file);
    try {
      assert.throws(() => Chain.open({ genesis, store }), (err: unknown) => err instanceof StoreError && /block 2 does not replay: stateRoot/.test(err.message));
    } finally {
      store.close();
    }
  });

  it("reads blocks stored as JSON text by earlier versions beside binary ones", () => {
    const genesis = testGenesis();
    const file = join(dir, "v.sqlite");
    const chain = Chain.open({ genesis, store: new BlockStore(file) });
    const t = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n });
    commitBlock(chain, [t], genesis.timeMs + 1000);
    commitBlock(chain, [], genesis.timeMs + 2000);
    const head = chain.head.hash;
    const block1 = chain.block(1)!;
    chain.store.close();

    const db = new Database(file);
    db.prepare("UPDATE blocks SET data = ? WHERE height = 1").run(JSON.stringify(committedToJson(block1)));
    assert.equal(typeof db.prepare<[], { data: unknown }>("SELECT data FROM blocks WHERE height = 1").get()!.data, "string");
    db.close();

    const store = new BlockStore(file);
    try {
      const reopened = Chain.open({ genesis, store });
      assert.equal(reopened.head.hash, head);
      assert.deepEqual(reopened.block(1), block1);
      assert.equal(reopened.balance(bob.address, "KRW"), 5n);
    } finally {
      store.close();
    }
  });

  it("refuses a store that belongs to another chain", () => {
    const file = join(dir, "v.sqlite");
    Chain.open({ genesis: testGenesis({ timeMs: 1_000 }), store: new BlockStore(file) }).store.close();
    const store = new BlockStore(file);
    try {
      assert.throws(() => Chain.open({ genesis: testGenesis({ timeMs: 2_000 }), store }), /belongs to the chain with genesis/);
    } finally {
      store.close();
    }
  });
});
