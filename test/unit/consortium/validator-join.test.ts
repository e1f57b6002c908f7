/**
 * A validator joining by bond: five ValidatorNodes on one in-process network, carol's key
 * not in the genesis set. Her engine follows without signing until her bond takes effect
 * (two blocks after the bond's block); from then on her precommits count, shown by the chain
 * finalizing with one genesis validator stopped, which the remaining genesis stake (300 of
 * 500) alone could not do.
 */
import assert from "node:assert/strict";
import { hashValidatorSet, stakeOf } from "../../../proofs/consortium/validators.ts";
import { verifyCommit } from "../../../proofs/consortium/commit.ts";
import { systemClock } from "../../../chains/consortium/clock.ts";
import { InProcessNetwork } from "../../../chains/consortium/consensus/transport.ts";
import { derivePrivateKey } from "../../../chains/consortium/crypto.ts";
import { makeGenesis } from "../../../chains/consortium/genesis.ts";
import { signTx } from "../../../chains/consortium/tx.ts";
import { ValidatorNode } from "../../../chains/consortium/validator.ts";
import { CHAIN_ID, carol, until, validatorKeys, validatorSigners } from "./helpers.ts";

describe("consortium: a bonded validator joins consensus", function () {
  this.timeout(60_000);
  const nodes: ValidatorNode[] = [];
  after(() => {
    for (const n of nodes) n.stop();
  });

  it("signs from two blocks after its bond, and its stake then keeps the chain live", async () => {
    const genesis = makeGenesis({
      chainId: CHAIN_ID,
      timeMs: Date.now() - 1000,
      validators: validatorSigners.map((s) => ({ address: s.address, stake: 100n })),
      balances: [{ address: carol.address, asset: "ISTH", amount: 1000n }],
      staking: { unbondingBlocks: 10, minBond: 100n, slashBps: 1000 },
    });
    const network = new InProcessNetwork();
    const timeouts = { proposeMs: 300, prevoteMs: 150, precommitMs: 150, deltaMs: 100 };
    for (const privateKey of [...validatorKeys, derivePrivateKey("test/user", 2)]) {
      nodes.push(ValidatorNode.open({ genesis, privateKey, transport: network.connect(), clock: systemClock, storePath: ":memory:", blockIntervalMs: 50, timeouts }));
    }
    for (const n of nodes) n.start();
    const joiner = nodes[4]!;
    assert.equal(joiner.address, carol.address);
    await until(() => joiner.chain.height >= 2, 20_000, "carol's node following the chain");
    assert.equal(joiner.engine.member, false);
    for (const b of [1, 2].map((h) => joiner.chain.block(h)!)) {
      const v = verifyCommit(b.header, b.commit, genesis.validators);
      assert.ok(v.ok && !v.signers.includes(carol.address) && v.ignored.length === 0, "a non-member does not sign");
    }

    const bond = signTx(carol, { chainId: CHAIN_ID, nonce: 0, body: { kind: "bond", amount: 100n } });
    nodes[0]!.submitTx(bond.bytes);
    await until(() => joiner.chain.txLocation(bond.hash) !== undefined, 20_000, "the bond committed");
    const bondHeight = joiner.chain.txLocation(bond.hash)!.height;
    const from = bondHeight + 2;
    await until(() => joiner.chain.height >= from + 1, 20_000, `height ${from + 1}`);
    const withCarol = joiner.chain.validatorSetAt(from);
    assert.equal(stakeOf(withCarol, carol.address), 100n);
    assert.equal(joiner.chain.block(from - 1)!.header.nextValidatorsHash, hashValidatorSet(withCarol));
    assert.equal(joiner.engine.member, true);

    // Stop a genesis validator: 300 of 500 genesis stake is not enough; with carol's 100 it is.
    const stopped = nodes[3]!;
    stopped.stop();
    nodes.splice(3, 1);
    const h = joiner.chain.height;
    await until(() => joiner.chain.height >= h + 3, 30_000, "blocks finalized without validator 3");
    const last = joiner.chain.block(h + 3)!;
    const v = verifyCommit(last.header, last.commit, joiner.chain.validatorSetAt(h + 3));
    assert.ok(v.ok, v.ok ? "" : v.reason);
    assert.ok(v.signers.includes(carol.address), "carol's precommit is part of the commit");
    assert.ok(!v.signers.includes(stopped.address));
    assert.ok(v.signedStake * 3n > v.totalStake * 2n && v.signedStake - 100n <= (v.totalStake * 2n) / 3n, "without carol the commit would fall short");
    for (const n of nodes) assert.equal(n.chain.block(h + 3)?.hash, last.hash, "one chain");
  });
});
