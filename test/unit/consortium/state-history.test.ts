import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { Chain } from "../../../chains/consortium/chain.ts";
import { systemClock } from "../../../chains/consortium/clock.ts";
import { Mempool } from "../../../chains/consortium/mempool.ts";
import { ConsortiumClient } from "../../../chains/consortium/rpc/client.ts";
import { startNodeServer } from "../../../chains/consortium/rpc/server.ts";
import { LedgerError } from "../../../chains/errors.ts";
import { BlockStore } from "../../../chains/consortium/store.ts";
import { verifyCommittedAbsence, verifyCommittedEntry } from "../../../proofs/consortium/entry-proof.ts";
import { balanceKey, decodeBalance } from "../../../proofs/consortium/state.ts";
import { alice, bob, CHAIN_ID, commitBlock, testGenesis, tx } from "./helpers.ts";

describe("consortium chain: state proofs at recent heights (persistent state versions)", () => {
  const genesis = testGenesis();
  const chain = Chain.open({ genesis, store: new BlockStore(":memory:"), stateHistory: 4 });
  const anchor = { chainId: CHAIN_ID, validatorSet: genesis.validators };
  const bobKrw = balanceKey(bob.address, "KRW");
  // Block h sends bob 100 * h KRW: his balance after block h is 100 * h * (h + 1) / 2.
  for (let h = 1; h <= 6; h++) commitBlock(chain, [tx(alice, h - 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: 100n * BigInt(h) })], genesis.timeMs + 1000 * h);

  it("proves a key's value at each of the last `stateHistory` heights against that height's header", () => {
    assert.equal(chain.height, 6);
    assert.equal(chain.oldestProvableHeight, 3);
    for (let h = 3; h <= 6; h++) {
      const at = chain.stateAt(bobKrw, h);
      assert.ok(at?.found, `height ${h}`);
      assert.equal(at.header.height, h);
      const d = decodeBalance(at.value);
      assert.ok(d.ok);
      assert.equal(d.value, BigInt((100 * h * (h + 1)) / 2));
      const r = verifyCommittedEntry({ ...anchor, tree: "state", key: bobKrw, value: at.value, proof: at.proof, header: at.header, commit: at.commit });
      assert.ok(r.ok, r.ok ? "" : r.reason);
      assert.equal(r.height, h);
      // The same proof against a later header's root is refused: versions differ.
      if (h < 6) {
        const later = chain.stateAt(bobKrw, h + 1)!;
        assert.equal(verifyCommittedEntry({ ...anchor, tree: "state", key: bobKrw, value: at.value, proof: at.proof, header: later.header, commit: later.commit }).ok, false);
      }
    }
  });

  it("proves absence at a height before the key existed, and answers nothing outside the kept heights", () => {
    const carolKrw = balanceKey(`0x${"c0".repeat(20)}`, "KRW");
    const at = chain.stateAt(carolKrw, 4);
    assert.ok(at && !at.found);
    const r = verifyCommittedAbsence({ ...anchor, key: carolKrw, absence: at.absence, header: at.header, commit: at.commit });
    assert.ok(r.ok, r.ok ? "" : r.reason);
    // bob's balance exists: an absence claim for it at any kept height is refused.
    const bobAt = chain.stateAt(bobKrw, 4)!;
    assert.equal(verifyCommittedAbsence({ ...anchor, key: bobKrw, absence: at.absence, header: bobAt.header, commit: bobAt.commit }).ok, false);
    assert.equal(chain.stateAt(bobKrw, 2), undefined, "older than the kept heights");
    assert.equal(chain.stateAt(bobKrw, 7), undefined, "past the head");
    assert.equal(chain.stateAt(bobKrw, 0), undefined, "genesis has no commit");
  });

  it("over gRPC, GetState at a height older than the kept ones is OUT_OF_RANGE naming the heights it keeps", async () => {
    const server = await startNodeServer({
      node: { chain, mempool: new Mempool(chain, systemClock), blockIntervalMs: 1000, maxClockSkewMs: 2000, submitTx: () => assert.fail("no submissions here") },
    });
    const client = new ConsortiumClient(server.endpoint);
    try {
      assert.equal((await client.getState(bobKrw, 3)).header.height, 3, "the oldest kept height is served");
      for (const h of [1, 2]) {
        await assert.rejects(client.getState(bobKrw, h), (err: unknown) => {
          assert.ok(err instanceof LedgerError, String(err));
          assert.equal(err.details.grpcCode, grpc.status.OUT_OF_RANGE);
          assert.match(err.message, new RegExp(`height ${h}: this node proves state at heights 3\\.\\.6 \\(the last 4\\)`));
          return true;
        });
      }
      await assert.rejects(client.getState(bobKrw, 7), (err: unknown) => err instanceof LedgerError && err.details.grpcCode === grpc.status.NOT_FOUND);
    } finally {
      client.close();
      await server.close();
    }
  });

  it("a chain reopened from its store serves the same recent versions after replay", () => {
    const store = new BlockStore(":memory:");
    const first = Chain.open({ genesis, store, stateHistory: 2 });
    for (let h = 1; h <= 3; h++) commitBlock(first, [tx(alice, h - 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: 1n })], genesis.timeMs + 1000 * h);
    const reopened = Chain.open({ genesis, store, stateHistory: 2 });
    for (const h of [2, 3]) assert.deepEqual(reopened.stateAt(bobKrw, h), first.stateAt(bobKrw, h));
    assert.equal(reopened.stateAt(bobKrw, 1), undefined);
    assert.throws(() => Chain.open({ genesis, store: new BlockStore(":memory:"), stateHistory: 0 }), /stateHistory/);
  });
});
