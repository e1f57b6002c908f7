/**
 * Delegation, slashing of stake that is already unbonding, and endpoint announcements, on one
 * chain copy (no network): voting power = self-bond + delegations, set changes at H + 2,
 * evidence cutting bonded and unbonding stake by the same share with the parts recorded, and
 * every new state entry provable against the header.
 */
import assert from "node:assert/strict";
import { type Hex } from "../../../proofs/hex.ts";
import { verifyStateProof } from "../../../proofs/consortium/light-client.ts";
import { decodeSlashing, decodeStakeAmount, decodeUnbonding, delegatedKey, delegationKey, endpointKey, slashingKey, unbondingKey } from "../../../proofs/consortium/staking.ts";
import { stakeOf } from "../../../proofs/consortium/validators.ts";
import { derivePrivateKey, Signer } from "../../../chains/consortium/crypto.ts";
import { KvOverlay, MemoryKv } from "../../../chains/consortium/kv.ts";
import { delegatedTo, delegationOf, endpointOf, memberEndpoints, selfBondOf } from "../../../chains/consortium/staking.ts";
import { decodeTx } from "../../../chains/consortium/tx.ts";
import { alice, carol, tx, validatorSigners } from "./helpers.ts";
import { Driver, UNBONDING, conflictingPrevotes } from "./staking-driver.ts";

const [v0, v1, , v3] = validatorSigners as [Signer, Signer, Signer, Signer];

function supply(d: Driver): bigint {
  return d.chain.assets().find((a) => a.symbol === "ISTH")!.supply;
}

function slashing(d: Driver, validator: Hex) {
  const r = decodeSlashing(d.chain.kv.get(slashingKey(validator))!);
  assert.ok(r.ok);
  return r.value;
}

function runTo(d: Driver, height: number): void {
  while (d.chain.height < height) d.block();
}

describe("consortium staking: slashing stake that is already unbonding", () => {
  it("evidence for height h cuts unbonding entries created at or after h - 1 (still signing at h; not earlier ones) and records each part", () => {
    const d = new Driver();
    assert.deepEqual(d.block([[carol, { kind: "bond", amount: 200n }]]).codes, [""]); // 1: carol signs from 3
    runTo(d, 2);
    assert.deepEqual(d.block([[carol, { kind: "unbond", amount: 20n }]]).codes, [""]); // 3: out of the set from 5, before the offence
    assert.deepEqual(d.block([[carol, { kind: "unbond", amount: 40n }]]).codes, [""]); // 4: out only from 6, so it still signs at 5
    d.block(); // 5: the offence height
    assert.equal(stakeOf(d.chain.validatorSetAt(5), carol.address), 180n);
    assert.deepEqual(d.block([[carol, { kind: "unbond", amount: 60n }]]).codes, [""]); // 6: after it
    const before = supply(d);
    const { codes } = d.block([[alice, { kind: "evidence", evidence: conflictingPrevotes(carol, 5) }]]); // 7
    assert.deepEqual(codes, [""]);
    // 25% of the 80 still bonded, of the 40 queued at 4 and the 60 queued at 6; the 20 queued at 3 did not sign at 5.
    const rec = slashing(d, carol.address);
    assert.deepEqual([rec.slashed, rec.fromSelfBond, rec.fromDelegations, rec.fromUnbonding], [45n, 20n, 0n, 25n]);
    assert.equal(supply(d), before - 45n);
    const queue = (release: number) => {
      const bytes = d.chain.kv.get(unbondingKey(release));
      if (!bytes) return [];
      const q = decodeUnbonding(bytes);
      assert.ok(q.ok);
      return q.value.map((e) => [e.owner, e.validator, e.creationHeight, e.amount]);
    };
    assert.deepEqual(queue(3 + UNBONDING), [[carol.address, carol.address, 3, 20n]]);
    assert.deepEqual(queue(4 + UNBONDING), [[carol.address, carol.address, 4, 30n]]);
    assert.deepEqual(queue(6 + UNBONDING), [[carol.address, carol.address, 6, 45n]]);
    assert.deepEqual(queue(7 + UNBONDING), [[carol.address, carol.address, 7, 60n]], "the remaining self-bond, not cut twice");
    // Released one by one: 800 + 20 + 30 + 45 + 60.
    runTo(d, 4 + UNBONDING);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 850n);
    runTo(d, 7 + UNBONDING);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 955n);
    assert.equal(supply(d), before - 45n);
  });

  it("a validator that unbonds everything the block before it equivocates (its stake still signs then) is slashed from that unbonding", () => {
    const d = new Driver();
    assert.deepEqual(d.block([[carol, { kind: "bond", amount: 200n }]]).codes, [""]); // 1: carol signs from 3
    runTo(d, 3);
    assert.deepEqual(d.block([[carol, { kind: "unbond", amount: 200n }]]).codes, [""]); // 4: leaves from 6
    d.block(); // 5: the offence height
    assert.equal(stakeOf(d.chain.validatorSetAt(5), carol.address), 200n, "carol's 200 still signed height 5");
    assert.deepEqual(d.block([[alice, { kind: "evidence", evidence: conflictingPrevotes(carol, 5) }]]).codes, [""]); // 6
    const rec = slashing(d, carol.address);
    assert.deepEqual([rec.slashed, rec.fromSelfBond, rec.fromDelegations, rec.fromUnbonding], [50n, 0n, 0n, 50n]);
  });

  it("evidence is taken only while the stake that signed the offence is still queued: at h + U - 2 it is cut, from h + U - 1 (released) the evidence is out of range", () => {
    const offend = () => {
      const d = new Driver();
      assert.deepEqual(d.block([[carol, { kind: "bond", amount: 200n }]]).codes, [""]); // 1
      runTo(d, 3);
      assert.deepEqual(d.block([[carol, { kind: "unbond", amount: 200n }]]).codes, [""]); // 4: releases at 4 + U
      d.block(); // 5: the offence height
      return d;
    };
    const inTime = offend();
    runTo(inTime, 5 + UNBONDING - 3);
    assert.deepEqual(inTime.block([[alice, { kind: "evidence", evidence: conflictingPrevotes(carol, 5) }]]).codes, [""]); // 5 + U - 2
    assert.equal(slashing(inTime, carol.address).fromUnbonding, 50n);

    const late = offend();
    runTo(late, 5 + UNBONDING - 2);
    assert.deepEqual(late.block([[alice, { kind: "evidence", evidence: conflictingPrevotes(carol, 5) }]]).codes, ["EVIDENCE_OUT_OF_RANGE"]); // 5 + U - 1
    assert.equal(late.chain.balance(carol.address, "ISTH") > 0n, true);
  });

  it("a validator that unbonds everything after equivocating is still slashed from its queue", () => {
    const d = new Driver();
    runTo(d, 3); // 3: the offence height
    assert.deepEqual(d.block([[v3, { kind: "unbond", amount: 100n }]]).codes, [""]); // 4: leaves from 6
    runTo(d, 5);
    assert.equal(stakeOf(d.chain.validatorSetAt(6), v3.address), undefined);
    assert.deepEqual(d.block([[alice, { kind: "evidence", evidence: conflictingPrevotes(v3, 3) }]]).codes, [""]); // 6
    const rec = slashing(d, v3.address);
    assert.deepEqual([rec.slashed, rec.fromSelfBond, rec.fromDelegations, rec.fromUnbonding], [25n, 0n, 0n, 25n]);
    runTo(d, 4 + UNBONDING);
    assert.equal(d.chain.balance(v3.address, "ISTH"), 75n, "75 of the 100 come back");
    assert.deepEqual(d.block([[v3, { kind: "bond", amount: 60n }]]).codes, ["VALIDATOR_SLASHED"]);
  });
});

describe("consortium staking: delegation", () => {
  it("delegations add to the validator's power from H + 2, are provable, and undelegations wait out the unbonding period", () => {
    const d = new Driver();
    const { block: b1, codes } = d.block([
      [carol, { kind: "delegate", validator: v0.address, amount: 60n }],
      [alice, { kind: "delegate", validator: v0.address, amount: 40n }],
    ]);
    assert.deepEqual(codes, ["", ""]);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 940n);
    assert.equal(stakeOf(d.chain.validatorSetAt(2), v0.address), 100n);
    assert.equal(stakeOf(d.chain.validatorSetAt(3), v0.address), 200n, "self-bond 100 + delegations 100");
    assert.equal(delegationOf(d.chain.kv, v0.address, carol.address), 60n);
    assert.equal(delegatedTo(d.chain.kv, v0.address), 100n);
    assert.equal(selfBondOf(d.chain.kv, v0.address), 100n);
    for (const key of [delegationKey(v0.address, carol.address), delegatedKey(v0.address)]) {
      assert.deepEqual(verifyStateProof(b1.header, key, d.chain.kv.get(key)!, d.chain.kv.proof(key)!), { ok: true });
    }
    const amount = decodeStakeAmount(d.chain.kv.get(delegationKey(v0.address, carol.address))!);
    assert.deepEqual(amount, { ok: true, value: 60n });
    // v0 signs with 200 of 500: the chain still commits with every member's signature.
    runTo(d, 3);
    const { codes: c4 } = d.block([[carol, { kind: "undelegate", validator: v0.address, amount: 25n }]]); // 4
    assert.deepEqual(c4, [""]);
    assert.equal(stakeOf(d.chain.validatorSetAt(6), v0.address), 175n);
    assert.equal(delegationOf(d.chain.kv, v0.address, carol.address), 35n);
    runTo(d, 4 + UNBONDING - 1);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 940n);
    d.block();
    assert.equal(d.chain.balance(carol.address, "ISTH"), 965n, "released at H + unbondingBlocks");
    // Undelegating everything removes the entry (zero is absence, as for balances).
    d.block([[carol, { kind: "undelegate", validator: v0.address, amount: 35n }]]);
    assert.equal(d.chain.kv.get(delegationKey(v0.address, carol.address)), undefined);
    assert.equal(delegatedTo(d.chain.kv, v0.address), 40n);
  });

  it("refuses delegations and undelegations that break the rules, each with its code", () => {
    const d = new Driver();
    const stranger = Signer.fromPrivateKey(derivePrivateKey("test/user", 9));
    d.block([[carol, { kind: "delegate", validator: v0.address, amount: 60n }]]);
    const { codes } = d.block([
      [carol, { kind: "delegate", validator: carol.address, amount: 1n }], // not a validator (and herself)
      [v0, { kind: "delegate", validator: v0.address, amount: 1n }], // to itself
      [carol, { kind: "delegate", validator: stranger.address, amount: 1n }], // not a validator
      [carol, { kind: "delegate", validator: v1.address, amount: 5000n }], // more than she holds
      [carol, { kind: "undelegate", validator: v1.address, amount: 1n }], // nothing delegated there
      [carol, { kind: "undelegate", validator: v0.address, amount: 61n }], // more than delegated
      [v0, { kind: "unbond", amount: 101n }], // its power is 160 but its own stake 100
    ]);
    assert.deepEqual(codes, ["SELF_DELEGATION", "SELF_DELEGATION", "NOT_A_VALIDATOR", "INSUFFICIENT_FUNDS", "UNDELEGATE_EXCEEDS_DELEGATION", "UNDELEGATE_EXCEEDS_DELEGATION", "UNBOND_EXCEEDS_STAKE"]);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 940n, "nothing moved");
    assert.throws(() => tx(carol, 99, { kind: "delegate", validator: v0.address, amount: 0n }), /amount must be positive/);
    assert.throws(() => tx(carol, 99, { kind: "undelegate", validator: `0x${"00".repeat(20)}`, amount: 1n }), /zero address/);
  });

  it("a validator that unbonds its own stake leaves with its delegated power and regains it when it bonds again", () => {
    const d = new Driver();
    d.block([[carol, { kind: "delegate", validator: v1.address, amount: 50n }]]); // 1
    d.block([[v1, { kind: "unbond", amount: 100n }]]); // 2: out from 4
    assert.equal(stakeOf(d.chain.validatorSetAt(4), v1.address), undefined);
    assert.equal(delegationOf(d.chain.kv, v1.address, carol.address), 50n, "the delegation stays recorded");
    assert.deepEqual(d.block([[carol, { kind: "delegate", validator: v1.address, amount: 1n }]]).codes, ["NOT_A_VALIDATOR"]);
    runTo(d, 2 + UNBONDING);
    assert.deepEqual(d.block([[v1, { kind: "bond", amount: 80n }]]).codes, [""]);
    assert.equal(stakeOf(d.chain.validatorSetAt(d.chain.height + 2), v1.address), 130n);
    assert.equal(selfBondOf(d.chain.kv, v1.address), 80n);
  });

  it("evidence cuts every delegation and every unbonding delegation of the offender by the same share; the rest can leave", () => {
    const d = new Driver();
    d.block([
      [carol, { kind: "delegate", validator: v0.address, amount: 60n }],
      [alice, { kind: "delegate", validator: v0.address, amount: 40n }],
    ]); // 1: v0 has 200 from 3
    runTo(d, 3);
    d.block([[carol, { kind: "undelegate", validator: v0.address, amount: 20n }]]); // 4, also the offence height
    const before = supply(d);
    const { block: b5, codes } = d.block([[alice, { kind: "evidence", evidence: conflictingPrevotes(v0, 4) }]]); // 5
    assert.deepEqual(codes, [""]);
    const rec = slashing(d, v0.address);
    assert.deepEqual([rec.slashed, rec.fromSelfBond, rec.fromDelegations, rec.fromUnbonding], [50n, 25n, 20n, 5n]);
    assert.equal(supply(d), before - 50n);
    assert.equal(delegationOf(d.chain.kv, v0.address, carol.address), 30n);
    assert.equal(delegationOf(d.chain.kv, v0.address, alice.address), 30n);
    assert.equal(delegatedTo(d.chain.kv, v0.address), 60n);
    assert.equal(stakeOf(d.chain.validatorSetAt(6), v0.address), 180n);
    assert.equal(stakeOf(d.chain.validatorSetAt(7), v0.address), undefined);
    const key = slashingKey(v0.address);
    assert.deepEqual(verifyStateProof(b5.header, key, d.chain.kv.get(key)!, d.chain.kv.proof(key)!), { ok: true });
    // No new delegations to a slashed validator; the old ones can leave (through the queue).
    const after = d.block([
      [alice, { kind: "delegate", validator: v0.address, amount: 1n }],
      [carol, { kind: "undelegate", validator: v0.address, amount: 30n }],
    ]); // 6
    assert.deepEqual(after.codes, ["VALIDATOR_SLASHED", ""]);
    runTo(d, 6 + UNBONDING);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 1000n - 60n + 15n + 30n);
    assert.equal(d.chain.balance(v0.address, "ISTH"), 75n);
  });

  it("a delegation and evidence in the same block: the slash sees the block's own writes", () => {
    const d = new Driver();
    runTo(d, 2);
    const { codes } = d.block([
      [carol, { kind: "delegate", validator: v1.address, amount: 40n }],
      [alice, { kind: "evidence", evidence: conflictingPrevotes(v1, 2) }],
    ]);
    assert.deepEqual(codes, ["", ""]);
    assert.equal(slashing(d, v1.address).fromDelegations, 10n);
    assert.equal(delegationOf(d.chain.kv, v1.address, carol.address), 30n);
  });
});

describe("consortium staking: endpoint announcements", () => {
  it("only a bonded validator announces its own endpoint, and the entry is provable", () => {
    const d = new Driver();
    const { block, codes } = d.block([
      [carol, { kind: "endpoint", endpoint: "127.0.0.1:26700" }], // not a validator
      [v0, { kind: "endpoint", endpoint: "127.0.0.1:26656" }],
      [v1, { kind: "endpoint", endpoint: "node-1.bank.example:443" }],
    ]);
    assert.deepEqual(codes, ["NOT_A_VALIDATOR", "", ""]);
    assert.equal(endpointOf(d.chain.kv, v0.address), "127.0.0.1:26656");
    assert.equal(endpointOf(d.chain.kv, carol.address), undefined);
    assert.deepEqual(new Set(memberEndpoints(d.chain.kv).map((e) => e.endpoint)), new Set(["127.0.0.1:26656", "node-1.bank.example:443"]));
    const key = endpointKey(v0.address);
    assert.deepEqual(verifyStateProof(block.header, key, d.chain.kv.get(key)!, d.chain.kv.proof(key)!), { ok: true });
    for (const bad of ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "a b:1", "-x:1", ""]) {
      assert.throws(() => tx(v0, 9, { kind: "endpoint", endpoint: bad }), /endpoint|port/, bad);
    }
    // The body round-trips through the tx encoding.
    const t = tx(v0, 9, { kind: "endpoint", endpoint: "127.0.0.1:1" });
    assert.deepEqual(decodeTx(t.bytes).body, { kind: "endpoint", endpoint: "127.0.0.1:1" });
  });
});

describe("consortium kv: KvOverlay.scan", () => {
  it("merges the base's entries under a prefix with the overlay's writes and deletions, in key order", () => {
    const base = new MemoryKv();
    const k = (...b: number[]) => Uint8Array.from(b);
    base.set(k(1, 1), k(10));
    base.set(k(1, 3), k(30));
    base.set(k(2, 1), k(99));
    const o = new KvOverlay(base);
    o.set(k(1, 2), k(20));
    o.delete(k(1, 3));
    const child = o.child();
    child.set(k(1, 0), k(5));
    child.set(k(1, 1), k(11));
    assert.deepEqual(child.scan(k(1)).map((e) => [...e.key, ...e.value]), [[1, 0, 5], [1, 1, 11], [1, 2, 20]]);
    assert.deepEqual(o.scan(k(1)).map((e) => [...e.key]), [[1, 1], [1, 2]]);
    assert.deepEqual(base.scan(k(1)).map((e) => [...e.key]), [[1, 1], [1, 3]], "the base is untouched");
  });
});
