/**
 * Staking and accountability on one chain copy (no network): bond / unbond with the
 * unbonding period, set changes taking effect at H + 2 and committed in the headers,
 * equivocation evidence slashing and removing a validator, and the light client following
 * all of it from genesis (and refusing forged, duplicated, insufficient or mis-linked input).
 */
import assert from "node:assert/strict";
import { type Hex, toHex } from "../../../proofs/hex.ts";
import { type Commit } from "../../../proofs/consortium/commit.ts";
import { evidenceHash } from "../../../proofs/consortium/evidence.ts";
import { type Header, hashHeader } from "../../../proofs/consortium/header.ts";
import { LightClient, trustHeader, verifyHeaderRun, verifyNextHeader, verifyStateProof } from "../../../proofs/consortium/light-client.ts";
import { decodeSlashing, slashingKey } from "../../../proofs/consortium/staking.ts";
import { type ValidatorSet, hashValidatorSet, makeValidatorSet, stakeOf } from "../../../proofs/consortium/validators.ts";
import { VoteType } from "../../../proofs/consortium/vote.ts";
import { type CommittedBlock } from "../../../chains/consortium/block.ts";
import { derivePrivateKey, Signer } from "../../../chains/consortium/crypto.ts";
import { alice, carol, commitFor, tx, validatorSigners } from "./helpers.ts";
import { Driver, UNBONDING, conflictingPrevotes } from "./staking-driver.ts";

describe("consortium staking: bond, unbond, set changes", () => {
  it("a bond in block H changes the set from H + 2, named by header H + 1's nextValidatorsHash", () => {
    const d = new Driver();
    d.block();
    const genesisSet = d.chain.validatorSetAt(1);
    const { block: b2, codes } = d.block([[carol, { kind: "bond", amount: 100n }]]);
    assert.deepEqual(codes, [""]);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 900n);
    assert.equal(b2.header.nextValidatorsHash, hashValidatorSet(genesisSet), "block 2's own change is not yet in its next set");
    const { block: b3 } = d.block();
    const withCarol = d.chain.validatorSetAt(4);
    assert.equal(stakeOf(withCarol, carol.address), 100n);
    assert.equal(b3.header.validatorsHash, hashValidatorSet(genesisSet));
    assert.equal(b3.header.nextValidatorsHash, hashValidatorSet(withCarol));
    const { block: b4 } = d.block();
    assert.equal(b4.header.validatorsHash, hashValidatorSet(withCarol));
    assert.equal(b4.commit.signatures.length, 5, "carol signs from height 4");
  });

  it("refuses bonds and unbonds that break the rules, each with its code", () => {
    const d = new Driver();
    const stranger = Signer.fromPrivateKey(derivePrivateKey("test/user", 9));
    const { codes } = d.block([
      [carol, { kind: "bond", amount: 10n }], // below minBond 50
      [carol, { kind: "bond", amount: 5000n }], // more than she holds
      [carol, { kind: "unbond", amount: 1n }], // not a validator
      [validatorSigners[0]!, { kind: "unbond", amount: 101n }], // more than bonded
      [validatorSigners[1]!, { kind: "unbond", amount: 60n }], // would leave 40 < 50
    ]);
    assert.deepEqual(codes, ["BOND_TOO_SMALL", "INSUFFICIENT_FUNDS", "NOT_A_VALIDATOR", "UNBOND_EXCEEDS_STAKE", "BOND_TOO_SMALL"]);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 1000n, "nothing moved");
    assert.throws(() => tx(stranger, 0, { kind: "bond", amount: 0n }), /amount must be positive/);
    assert.equal(hashValidatorSet(d.chain.validatorSetAt(3)), hashValidatorSet(d.chain.validatorSetAt(1)));
  });

  it("unbonded stake returns to the balance only after the unbonding period", () => {
    const d = new Driver();
    d.block([[carol, { kind: "bond", amount: 100n }]]); // block 1
    d.block();
    d.block(); // carol signs from 3
    const { codes } = d.block([[carol, { kind: "unbond", amount: 100n }]]); // block 4
    assert.deepEqual(codes, [""]);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 900n);
    assert.ok(stakeOf(d.chain.validatorSetAt(5), carol.address), "still signs block 5");
    assert.equal(stakeOf(d.chain.validatorSetAt(6), carol.address), undefined, "out from 6");
    while (d.chain.height < 4 + UNBONDING - 1) d.block();
    assert.equal(d.chain.balance(carol.address, "ISTH"), 900n, `still unbonding at height ${d.chain.height}`);
    d.block();
    assert.equal(d.chain.height, 4 + UNBONDING);
    assert.equal(d.chain.balance(carol.address, "ISTH"), 1000n, "released at H + unbondingBlocks");
  });
});

describe("consortium staking: equivocation evidence", () => {
  it("anyone's evidence slashes the validator's share, removes it from H + 2, and is provable; duplicates are refused", () => {
    const d = new Driver();
    d.block();
    d.block();
    const offender = validatorSigners[3]!;
    const ev = conflictingPrevotes(offender, 2, 1);
    const supplyBefore = d.chain.assets().find((a) => a.symbol === "ISTH")!.supply;
    const { block, codes } = d.block([[alice, { kind: "evidence", evidence: ev }]]); // block 3
    assert.deepEqual(codes, [""]);
    assert.equal(stakeOf(d.chain.validatorSetAt(4), offender.address), 100n, "still signs block 4");
    assert.equal(stakeOf(d.chain.validatorSetAt(5), offender.address), undefined, "removed from block 5");
    assert.equal(d.chain.assets().find((a) => a.symbol === "ISTH")!.supply, supplyBefore - 25n, "25% of 100 burnt");
    // The slashing record is in the state that block 3 commits.
    const key = slashingKey(offender.address);
    const value = d.chain.kv.get(key)!;
    const rec = decodeSlashing(value);
    assert.ok(rec.ok);
    assert.deepEqual(rec.value, { evidenceHeight: 2, round: 1, voteType: VoteType.Prevote, evidenceHash: evidenceHash(ev), slashed: 25n, includedHeight: 3, fromSelfBond: 25n, fromDelegations: 0n, fromUnbonding: 0n });
    assert.deepEqual(verifyStateProof(block.header, key, value, d.chain.kv.proof(key)!), { ok: true });
    // The same evidence again (either order) and a second one about the same validator.
    const swapped = { ...ev, a: ev.b, b: ev.a };
    const again = d.block([
      [alice, { kind: "evidence", evidence: swapped }],
      [alice, { kind: "evidence", evidence: conflictingPrevotes(offender, 3) }],
    ]);
    assert.deepEqual(again.codes, ["DUPLICATE_EVIDENCE", "VALIDATOR_SLASHED"]);
    assert.deepEqual(d.block([[offender, { kind: "bond", amount: 100n }]]).codes, ["VALIDATOR_SLASHED"]);
    // The remaining 75 return to the offender after the unbonding period.
    while (d.chain.height < 3 + UNBONDING) d.block();
    assert.equal(d.chain.balance(offender.address, "ISTH"), 75n);
    // The chain goes on with the three others.
    assert.equal(d.block().block.commit.signatures.length, 3);
  });

  it("refuses evidence that proves nothing, each with its reason", () => {
    const d = new Driver();
    d.block();
    d.block();
    const good = conflictingPrevotes(validatorSigners[2]!, 2);
    const other = conflictingPrevotes(validatorSigners[1]!, 2);
    const stranger = Signer.fromPrivateKey(derivePrivateKey("test/user", 7));
    const sameBlock = { ...good, b: good.a };
    const { codes } = d.block([
      [alice, { kind: "evidence", evidence: { ...good, b: other.b } }], // two signers
      [alice, { kind: "evidence", evidence: { ...good, round: 3 } }], // signatures over another round
      [alice, { kind: "evidence", evidence: conflictingPrevotes(stranger, 2) }], // not a validator
      [alice, { kind: "evidence", evidence: conflictingPrevotes(validatorSigners[2]!, 9) }], // future height
    ]);
    assert.deepEqual(codes, ["EVIDENCE_INVALID", "EVIDENCE_INVALID", "EVIDENCE_INVALID", "EVIDENCE_OUT_OF_RANGE"]);
    assert.throws(() => tx(alice, 99, { kind: "evidence", evidence: sameBlock }), /same block id/);
    while (d.chain.height < 2 + UNBONDING + 1) d.block();
    const late = d.block([[alice, { kind: "evidence", evidence: good }]]);
    assert.deepEqual(late.codes, ["EVIDENCE_OUT_OF_RANGE"]);
  });
});

describe("proofs/consortium/light-client: following the chain from genesis", () => {
  /** A chain with carol joining (set change at 4) and validator 3 slashed (set change at 7). */
  function history() {
    const d = new Driver();
    const blocks: CommittedBlock[] = [];
    blocks.push(d.block([[carol, { kind: "bond", amount: 100n }]]).block); // 1 → carol from 3
    blocks.push(d.block().block);
    blocks.push(d.block().block);
    blocks.push(d.block().block);
    blocks.push(d.block([[alice, { kind: "evidence", evidence: conflictingPrevotes(validatorSigners[3]!, 4) }]]).block); // 5 → v3 out from 7
    for (let i = 0; i < 3; i++) blocks.push(d.block().block);
    const sets = new Map<Hex, ValidatorSet>();
    for (let h = 1; h <= d.chain.height + 1; h++) {
      const set = d.chain.validatorSetByHash(h <= d.chain.height ? blocks[h - 1]!.header.nextValidatorsHash : blocks[blocks.length - 1]!.header.nextValidatorsHash);
      if (set) sets.set(hashValidatorSet(set), set);
    }
    return { d, blocks, sets };
  }

  function follow(lc: LightClient, blocks: readonly CommittedBlock[], sets: Map<Hex, ValidatorSet>) {
    for (const b of blocks) {
      const next = b.header.nextValidatorsHash !== b.header.validatorsHash ? sets.get(b.header.nextValidatorsHash) : undefined;
      const r = lc.update(b.header, b.commit, next);
      assert.ok(r.ok, r.ok ? "" : r.reason);
    }
  }

  it("verifies every header height by height across two set changes, then a state proof", () => {
    const { d, blocks, sets } = history();
    const anchor = trustHeader(d.chain.genesisHeader, d.chain.genesis.validators);
    assert.ok(anchor.ok);
    const lc = new LightClient(anchor.state);
    follow(lc, blocks, sets);
    assert.equal(lc.height, blocks.length);
    assert.equal(lc.setAt(3)!.validators.length, 5);
    assert.equal(lc.setAt(7)!.validators.length, 4);
    assert.equal(stakeOf(lc.setAt(7)!, validatorSigners[3]!.address), undefined);
    const head = blocks[blocks.length - 1]!;
    const key = slashingKey(validatorSigners[3]!.address);
    assert.deepEqual(verifyStateProof(head.header, key, d.chain.kv.get(key)!, d.chain.kv.proof(key)!), { ok: true });
  });

  it("a run of headers verifies with commits checked only at set changes and at its end, and a tampered link is refused", () => {
    const { d, blocks, sets } = history();
    const anchor = trustHeader(d.chain.genesisHeader, d.chain.genesis.validators);
    assert.ok(anchor.ok);
    const run = blocks.map((b) => ({ header: b.header, commit: b.commit }));
    const lc = new LightClient(anchor.state);
    const r = lc.updateRun(run, (h) => sets.get(h));
    assert.ok(r.ok, r.ok ? "" : r.reason);
    const sequential = new LightClient(anchor.state);
    follow(sequential, blocks, sets);
    assert.deepEqual(lc.state, sequential.state);
    for (const h of [1, 3, 5, 7, 8]) assert.equal(hashValidatorSet(lc.setAt(h)!), hashValidatorSet(sequential.setAt(h)!), `set of height ${h}`);
    // Every commit signature is unchecked in the middle, so tampering must show through the links.
    const at = (i: number, header: Header) => run.map((x, j) => (j === i ? { ...x, header } : x));
    const tampered = verifyHeaderRun(anchor.state, at(2, { ...run[2]!.header, stateRoot: `0x${"66".repeat(32)}` }), (h) => sets.get(h));
    assert.ok(!tampered.ok && /header 4 does not extend/.test(tampered.reason), JSON.stringify(tampered));
    // A set change slipped into a middle header (with a set the forger controls) must carry a valid commit of the old set.
    const forgedSet = makeValidatorSet([{ address: alice.address, stake: 1n }]);
    const forged = verifyHeaderRun(anchor.state, at(2, { ...run[2]!.header, nextValidatorsHash: hashValidatorSet(forgedSet) }), (h) => (h === hashValidatorSet(forgedSet) ? forgedSet : sets.get(h)));
    assert.ok(!forged.ok && /commit of 3: commit is for a different block hash/.test(forged.reason), JSON.stringify(forged));
    const lastForged = verifyHeaderRun(anchor.state, run.map((x, j) => (j === run.length - 1 ? { ...x, commit: { ...x.commit, signatures: x.commit.signatures.slice(0, 2), timesMs: x.commit.timesMs.slice(0, 2) } } : x)), (h) => sets.get(h));
    assert.ok(!lastForged.ok && /not more than 2\/3/.test(lastForged.reason));
    assert.ok(!verifyHeaderRun(anchor.state, run, () => undefined).ok, "set changes need their sets");
  });

  it("rejects forged, duplicated and insufficient signatures, a wrong set transition and a proof with one flipped bit", () => {
    const { d, blocks, sets } = history();
    const anchor = trustHeader(d.chain.genesisHeader, d.chain.genesis.validators);
    assert.ok(anchor.ok);
    const lc = new LightClient(anchor.state);
    follow(lc, blocks.slice(0, 2), sets);
    const b3 = blocks[2]!; // the first header signed by the 5-validator set
    const nextOf = (b: CommittedBlock) => (b.header.nextValidatorsHash !== b.header.validatorsHash ? sets.get(b.header.nextValidatorsHash) : undefined);
    const tryCommit = (c: Commit) => verifyNextHeader(lc.state, b3.header, c, nextOf(b3));
    const flipSig = (s: Hex): Hex => (s.slice(0, 10) + (s[10] === "0" ? "1" : "0") + s.slice(11)) as Hex;
    const sigs = b3.commit.signatures;
    const forged = tryCommit({ ...b3.commit, signatures: [flipSig(sigs[0]!), flipSig(sigs[1]!), ...sigs.slice(2)] });
    assert.equal(forged.ok, false);
    if (!forged.ok) assert.match(forged.reason, /not more than 2\/3/);
    const duplicated = tryCommit({ ...b3.commit, signatures: [sigs[0]!, sigs[0]!, sigs[0]!, sigs[0]!], timesMs: b3.commit.timesMs.slice(0, 4).map(() => b3.commit.timesMs[0]!) });
    assert.equal(duplicated.ok, false);
    if (!duplicated.ok) assert.match(duplicated.reason, /duplicate signature/);
    const insufficient = tryCommit({ ...b3.commit, signatures: sigs.slice(0, 3), timesMs: b3.commit.timesMs.slice(0, 3) });
    assert.equal(insufficient.ok, false);
    if (!insufficient.ok) assert.match(insufficient.reason, /signed stake 300 of 500/);
    // Signed by the OLD set only (4 of the genesis validators: enough stake there, wrong set here).
    const oldSet = d.chain.genesis.validators;
    const fakeHeader: Header = { ...b3.header, validatorsHash: hashValidatorSet(oldSet) };
    const wrongSet = verifyNextHeader(lc.state, fakeHeader, commitFor({ header: fakeHeader }, validatorSigners), undefined);
    assert.equal(wrongSet.ok, false);
    if (!wrongSet.ok) assert.match(wrongSet.reason, /names a validator set other than/);
    // A header that changes the set, given a next set that does not hash to what it commits.
    follow(lc, blocks.slice(2, 5), sets); // up to block 5 (its evidence changes the set from 7)
    const b6 = blocks[5]!;
    assert.notEqual(b6.header.nextValidatorsHash, b6.header.validatorsHash);
    const bogus = makeValidatorSet([...validatorSigners, carol].map((s) => ({ address: s.address, stake: 100n })));
    const badNext = lc.update(b6.header, b6.commit, bogus);
    assert.equal(badNext.ok, false);
    if (!badNext.ok) assert.match(badNext.reason, /does not hash to header 6's nextValidatorsHash/);
    const missingNext = lc.update(b6.header, b6.commit);
    assert.equal(missingNext.ok, false);
    if (!missingNext.ok) assert.match(missingNext.reason, /next set is required/);
    // A header that skips a height, or does not extend the trusted one.
    assert.equal(lc.update(blocks[6]!.header, blocks[6]!.commit).ok, false);
    assert.equal(lc.update({ ...b6.header, prevHash: hashHeader(b3.header) }, b6.commit, nextOf(b6)).ok, false);
    assert.ok(lc.update(b6.header, b6.commit, nextOf(b6)).ok, "the honest input still verifies");
    // One flipped bit in a state proof (value, sibling, or the root it is checked against).
    const key = slashingKey(validatorSigners[3]!.address);
    const value = d.chain.kv.get(key)!;
    const proof = d.chain.kv.proof(key)!;
    const head = blocks[blocks.length - 1]!.header;
    assert.deepEqual(verifyStateProof(head, key, value, proof), { ok: true });
    const flippedValue = value.slice();
    flippedValue[flippedValue.length - 1]! ^= 1;
    assert.equal(verifyStateProof(head, key, flippedValue, proof).ok, false);
    const sibling = proof.siblings[0]!.slice();
    sibling[0]! ^= 0x80;
    assert.equal(verifyStateProof(head, key, value, { ...proof, siblings: [sibling, ...proof.siblings.slice(1)] }).ok, false);
    const root = head.stateRoot;
    const flippedRoot = (root.slice(0, -1) + (root.endsWith("0") ? "1" : "0")) as Hex;
    assert.equal(verifyStateProof({ ...head, stateRoot: flippedRoot }, key, value, proof).ok, false);
    void toHex;
  });
});
