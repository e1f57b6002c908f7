import assert from "node:assert/strict";
import { verifyCommit } from "../../../proofs/consortium/commit.ts";
import { hashHeader } from "../../../proofs/consortium/header.ts";
import { type Clock, OffsetClock, systemClock } from "../../../chains/consortium/clock.ts";
import { InProcessNetwork } from "../../../chains/consortium/consensus/transport.ts";
import { type Genesis } from "../../../chains/consortium/genesis.ts";
import { ValidatorNode } from "../../../chains/consortium/validator.ts";
import { alice, bob, testGenesis, tx, until, validatorKeys, validatorSigners } from "./helpers.ts";

const TIMEOUTS = { proposeMs: 150, prevoteMs: 80, precommitMs: 80, deltaMs: 40 };
const BLOCK_MS = 100;

describe("consortium consensus, 4 validators in one process", function () {
  this.timeout(20_000);
  let nodes: ValidatorNode[] = [];
  afterEach(() => {
    for (const n of nodes) n.stop();
    nodes = [];
  });

  function open(genesis: Genesis, network: InProcessNetwork, index: number, clock: Clock = systemClock): ValidatorNode {
    const node = ValidatorNode.open({ genesis, privateKey: validatorKeys[index]!, transport: network.connect(), clock, storePath: ":memory:", blockIntervalMs: BLOCK_MS, timeouts: TIMEOUTS });
    nodes.push(node);
    return node;
  }

  /** Blocks 1..height of `node`, checked to be identical on every other node that has them. */
  function agreedBlocks(height: number) {
    return Array.from({ length: height }, (_, i) => {
      const blocks = nodes.filter((n) => n.chain.height > i).map((n) => n.chain.block(i + 1)!);
      for (const b of blocks) assert.equal(b.hash, blocks[0]!.hash, `validators disagree at height ${i + 1}`);
      return blocks[0]!;
    });
  }

  it("produces empty blocks on an idle chain, each final by a commit that verifies, with strictly increasing time", async () => {
    const genesis = testGenesis();
    const network = new InProcessNetwork();
    for (let i = 0; i < 4; i++) open(genesis, network, i).start();
    await until(() => nodes.every((n) => n.chain.height >= 6), 10_000, "height 6 on every validator");
    const blocks = agreedBlocks(6);
    let prevTime = genesis.timeMs;
    let prevHash = hashHeader(nodes[0]!.chain.genesisHeader);
    for (const b of blocks) {
      assert.ok(b.header.timeMs > prevTime, `time of block ${b.header.height} moves forward`);
      assert.equal(b.header.prevHash, prevHash);
      const v = verifyCommit(b.header, b.commit, genesis.validators);
      assert.ok(v.ok, v.ok ? "" : v.reason);
      prevTime = b.header.timeMs;
      prevHash = b.hash;
    }
    assert.ok(blocks.every((b) => b.txs.length === 0));
  });

  it("includes a transaction submitted to one validator and every validator applies it", async () => {
    const genesis = testGenesis();
    const network = new InProcessNetwork();
    for (let i = 0; i < 4; i++) open(genesis, network, i).start();
    const t = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 250n });
    nodes[2]!.submitTx(t.bytes);
    await until(() => nodes.every((n) => n.chain.txLocation(t.hash) !== undefined), 10_000, "the transfer on every validator");
    for (const n of nodes) assert.equal(n.chain.balance(bob.address, "KRW"), 250n);
    const roots = new Set(nodes.map((n) => n.chain.block(n.chain.txLocation(t.hash)!.height)!.header.stateRoot));
    assert.equal(roots.size, 1);
  });

  it("keeps finalizing with one validator silent, moving past its turns to propose by round timeouts", async () => {
    const genesis = testGenesis();
    const network = new InProcessNetwork();
    for (let i = 0; i < 3; i++) open(genesis, network, i).start();
    await until(() => nodes.every((n) => n.chain.height >= 8), 15_000, "height 8 without validator 3");
    const blocks = agreedBlocks(8);
    assert.ok(blocks.some((b) => b.commit.round > 0), "some heights needed a second round (the silent validator's turns)");
    for (const b of blocks) {
      assert.notEqual(b.header.proposer, validatorSigners[3]!.address);
      assert.ok(verifyCommit(b.header, b.commit, genesis.validators).ok);
    }
  });

  it("lets a validator that starts late catch up from its peers' committed blocks", async () => {
    const genesis = testGenesis();
    const network = new InProcessNetwork();
    for (let i = 0; i < 3; i++) open(genesis, network, i).start();
    await until(() => nodes[0]!.chain.height >= 5, 10_000, "height 5");
    const late = open(genesis, network, 3);
    late.start();
    await until(() => late.chain.height >= nodes[0]!.chain.height - 1 && late.chain.height >= 7, 10_000, "the late validator to catch up");
    agreedBlocks(late.chain.height);
  });

  it("agrees block time as the stake-weighted median of precommit times: a validator whose clock runs 10 s ahead cannot move it", async () => {
    const genesis = testGenesis();
    const network = new InProcessNetwork();
    open(genesis, network, 0, new OffsetClock(systemClock, 10_000)).start();
    for (let i = 1; i < 4; i++) open(genesis, network, i).start();
    await until(() => nodes[1]!.chain.height >= 8, 15_000, "height 8");
    const blocks = agreedBlocks(8);
    let prev = genesis.timeMs;
    for (const b of blocks) {
      assert.ok(b.header.timeMs <= Date.now(), "no block time from the fast clock");
      assert.ok(b.header.timeMs > prev, "monotonic");
      prev = b.header.timeMs;
      if (b.header.height > 1) {
        const last = verifyCommit(blocks[b.header.height - 2]!.header, b.lastCommit!, genesis.validators);
        assert.ok(last.ok);
        if (last.ok) assert.equal(b.header.timeMs, last.medianTimeMs, "the header time is its lastCommit's median");
      }
    }
    assert.ok(blocks.some((b) => b.lastCommit?.timesMs.some((t) => t > Date.now())), "the fast validator's precommits, 10 s ahead, were in commits");
  });
});
