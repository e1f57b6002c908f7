/**
 * The state table (store.ts): the state after a recent block lives in SQLite, trailing the
 * head by stateHistory - 1 blocks and advanced inside each block's transaction, so opening a
 * chain re-executes only the heights it serves proofs for instead of every block since
 * genesis; a table that is missing or does not match its header is never trusted.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { balanceKey } from "../../../proofs/consortium/state.ts";
import { hashValidatorSet, stakeOf } from "../../../proofs/consortium/validators.ts";
import { Chain } from "../../../chains/consortium/chain.ts";
import { BlockStore } from "../../../chains/consortium/store.ts";
import { alice, bob, carol, commitBlock, testGenesis, tx } from "./helpers.ts";
import { Driver } from "./staking-driver.ts";

describe("consortium state table: reopening without replaying the chain", () => {
  const genesis = testGenesis();
  const bobKrw = balanceKey(bob.address, "KRW");
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "isthmus-state-table-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** 20 blocks, block h sending bob h KRW, on a chain keeping 4 heights of state. */
  function twentyBlocks(file: string): { height: number; hash: string; bob: bigint; alice: bigint } {
    const chain = Chain.open({ genesis, store: new BlockStore(file), stateHistory: 4 });
    for (let h = 1; h <= 20; h++) commitBlock(chain, [tx(alice, h - 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: BigInt(h) })], genesis.timeMs + 1000 * h);
    assert.equal(chain.store.stateHeight(), 17, "the table trails the head by stateHistory - 1");
    const out = { height: chain.height, hash: chain.head.hash, bob: chain.balance(bob.address, "KRW"), alice: chain.balance(alice.address, "KRW") };
    chain.store.close();
    return out;
  }

  function reopen(file: string, log?: { error: (msg: string) => void }): Chain {
    const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: (m: string) => log?.error(m) };
    return Chain.open({ genesis, store: new BlockStore(file), stateHistory: 4, log: quiet });
  }

  it("reopens from the table, re-executing only the last stateHistory - 1 blocks, to the same state and proofs", () => {
    const file = join(dir, "chain.sqlite");
    const before = twentyBlocks(file);
    const chain = reopen(file);
    try {
      assert.equal(chain.replayedOnOpen, 3);
      assert.equal(chain.height, before.height);
      assert.equal(chain.head.hash, before.hash);
      assert.equal(chain.balance(bob.address, "KRW"), before.bob);
      assert.equal(chain.balance(alice.address, "KRW"), before.alice);
      assert.equal(before.bob, 210n);
      assert.equal(chain.oldestProvableHeight, 17);
      for (let h = 17; h <= 20; h++) {
        const at = chain.stateAt(bobKrw, h);
        assert.ok(at?.found, `height ${h} is provable`);
        assert.equal(at.header.stateRoot, chain.block(h)!.header.stateRoot);
      }
      // It goes on committing, and the table goes on trailing.
      commitBlock(chain, [tx(alice, 20, { kind: "transfer", to: bob.address, asset: "KRW", amount: 21n })], genesis.timeMs + 21_000);
      assert.equal(chain.store.stateHeight(), 18);
    } finally {
      chain.store.close();
    }
    const again = reopen(file);
    assert.equal(again.replayedOnOpen, 3);
    assert.equal(again.balance(bob.address, "KRW"), 231n);
    again.store.close();
  });

  it("reopened with another stateHistory, it proves every height it names as provable (and only keeps that many)", () => {
    const file = join(dir, "chain.sqlite");
    twentyBlocks(file); // stateHistory 4: the table holds height 17
    const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    const provable = (chain: Chain) => {
      for (let h = chain.oldestProvableHeight; h <= chain.height; h++) assert.ok(chain.stateAt(bobKrw, h)?.found, `height ${h} is named provable (oldest ${chain.oldestProvableHeight}) but has no proof`);
      assert.equal(chain.stateAt(bobKrw, chain.oldestProvableHeight - 1), undefined);
    };
    const wider = Chain.open({ genesis, store: new BlockStore(file), stateHistory: 8, log: quiet });
    try {
      provable(wider);
      for (let h = 21; h <= 30; h++) {
        commitBlock(wider, [tx(alice, h - 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: BigInt(h) })], genesis.timeMs + 1000 * h);
        provable(wider);
      }
      assert.equal(wider.oldestProvableHeight, 23);
    } finally {
      wider.store.close();
    }
    const narrower = Chain.open({ genesis, store: new BlockStore(file), stateHistory: 2, log: quiet });
    try {
      provable(narrower);
      for (let h = 31; h <= 33; h++) {
        commitBlock(narrower, [tx(alice, h - 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: BigInt(h) })], genesis.timeMs + 1000 * h);
        provable(narrower);
      }
      assert.equal(narrower.store.stateHeight(), 32);
      assert.equal(narrower.keptStateHeights, 2, "state versions older than stateHistory are let go");
    } finally {
      narrower.store.close();
    }
  });

  it("a store without a table (written by an earlier version) is replayed from genesis once, then opens from its table", () => {
    const file = join(dir, "chain.sqlite");
    const before = twentyBlocks(file);
    const db = new Database(file);
    db.exec("DELETE FROM state; DELETE FROM meta WHERE key = 'state_height'; DELETE FROM validator_sets;");
    db.close();
    const first = reopen(file);
    assert.equal(first.replayedOnOpen, 20);
    assert.equal(first.store.stateHeight(), 20, "the table takes the head's state");
    assert.equal(first.balance(bob.address, "KRW"), before.bob);
    first.store.close();
    const second = reopen(file);
    assert.equal(second.replayedOnOpen, 0);
    assert.equal(second.head.hash, before.hash);
    assert.equal(second.balance(bob.address, "KRW"), before.bob);
    second.store.close();
  });

  it("a table whose contents do not hash to its block's stateRoot is not trusted: replayed from genesis and rewritten", () => {
    const file = join(dir, "chain.sqlite");
    const before = twentyBlocks(file);
    const db = new Database(file);
    const changed = db.prepare("UPDATE state SET value = ? WHERE key = ?").run(Buffer.alloc(32, 0xff), Buffer.from(bobKrw));
    assert.equal(changed.changes, 1);
    db.close();
    const errors: string[] = [];
    const chain = reopen(file, { error: (m) => errors.push(m) });
    assert.ok(errors.some((m) => /stored state does not match/.test(m)), errors.join("\n"));
    assert.equal(chain.replayedOnOpen, 20);
    assert.equal(chain.balance(bob.address, "KRW"), before.bob);
    chain.store.close();
    const again = reopen(file);
    assert.equal(again.replayedOnOpen, 0, "the rewritten table is trusted");
    assert.equal(again.balance(bob.address, "KRW"), before.bob);
    again.store.close();
  });

  it("validator sets scheduled before the table's height are still known by hash after reopening", () => {
    const d = new Driver();
    d.block();
    const genesisSet = d.chain.validatorSetAt(1);
    d.block([[carol, { kind: "bond", amount: 100n }]]);
    const withCarol = d.chain.validatorSetAt(4);
    assert.equal(stakeOf(withCarol, carol.address), 100n);
    // Later changes prune superseded entries from the schedule in state (staking.ts), so after
    // the third one only the store remembers the set carol first joined.
    const later = [];
    for (const amount of [50n, 25n]) {
      for (let i = 0; i < 10; i++) d.block();
      d.block([[carol, { kind: "bond", amount }]]);
      later.push(d.chain.validatorSetAt(d.chain.height + 2));
    }
    assert.equal(stakeOf(later[1]!, carol.address), 175n);
    for (let i = 0; i < 40; i++) d.block();
    assert.ok(d.chain.store.stateHeight()! > 30, "every set change is below the table's height");
    const reopened = Chain.open({ genesis: d.chain.genesis, store: d.chain.store });
    assert.equal(reopened.replayedOnOpen, reopened.stateHistory - 1);
    assert.equal(reopened.head.hash, d.chain.head.hash);
    assert.throws(() => reopened.validatorSetAt(5), /pruned/, "carol's first set is no longer in the state's schedule");
    for (const set of [genesisSet, withCarol, ...later]) assert.deepEqual(reopened.validatorSetByHash(hashValidatorSet(set)), set);
  });
});
