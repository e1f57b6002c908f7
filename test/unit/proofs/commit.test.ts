import assert from "node:assert/strict";
import { AbiCoder, keccak256 } from "ethers";
import { type Hex } from "../../../proofs/hex.ts";
import { type Commit, verifyCommit } from "../../../proofs/consortium/commit.ts";
import { CONSORTIUM_SCHEME, ZERO_HASH } from "../../../proofs/consortium/domain.ts";
import { type Header, decodeHeader, encodeHeader, hashHeader } from "../../../proofs/consortium/header.ts";
import { hashValidatorSet, makeValidatorSet } from "../../../proofs/consortium/validators.ts";
import { VoteType, type VoteData, voteDigest } from "../../../proofs/consortium/vote.ts";
import { derivePrivateKey, Signer } from "../../../chains/consortium/crypto.ts";

const signers = [0, 1, 2, 3].map((i) => Signer.fromPrivateKey(derivePrivateKey("test/commit", i)));
const outsider = Signer.fromPrivateKey(derivePrivateKey("test/outsider", 0));

function setOf(stakes: bigint[]) {
  return makeValidatorSet(stakes.map((stake, i) => ({ address: signers[i]!.address, stake })));
}

function headerFor(validatorsHash: Hex, height = 12): Header {
  return {
    chainId: 4242,
    height,
    timeMs: 1_700_000_000_123,
    prevHash: `0x${"01".repeat(32)}`,
    txRoot: `0x${"02".repeat(32)}`,
    resultsRoot: `0x${"03".repeat(32)}`,
    stateRoot: `0x${"04".repeat(32)}`,
    validatorsHash,
    nextValidatorsHash: validatorsHash,
    proposer: signers[0]!.address,
  };
}

function precommit(header: Header, s: Signer, over: Partial<VoteData> = {}, round = 0): Hex {
  return s.signHex(voteDigest({ chainId: header.chainId, height: header.height, round, type: VoteType.Precommit, blockHash: hashHeader(header), ...over }));
}

function commitOf(header: Header, signatures: Hex[], round = 0): Commit {
  return { height: header.height, round, blockHash: hashHeader(header), signatures, timesMs: signatures.map(() => 0) };
}

describe("proofs/consortium/commit: verifyCommit", () => {
  const equal = setOf([100n, 100n, 100n, 100n]);
  const header = headerFor(hashValidatorSet(equal));

  it("hashes headers as keccak256(abi.encode(tag, fields...)) and decodes them back", () => {
    const h = header;
    const expected = keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ["bytes32", "uint256", "uint64", "uint64", "bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "address"],
        [CONSORTIUM_SCHEME.tags.header, h.chainId, h.height, h.timeMs, h.prevHash, h.txRoot, h.resultsRoot, h.stateRoot, h.validatorsHash, h.nextValidatorsHash, h.proposer],
      ),
    );
    assert.equal(hashHeader(h), expected);
    assert.deepEqual(decodeHeader(encodeHeader(h)), { ok: true, header: h });
  });

  it("a block precommitted by more than 2/3 of the stake is final", () => {
    const r = verifyCommit(header, commitOf(header, signers.slice(0, 3).map((s) => precommit(header, s))), equal);
    assert.ok(r.ok);
    assert.equal(r.signedStake, 300n);
    assert.deepEqual([...r.signers].sort(), signers.slice(0, 3).map((s) => s.address).sort());
  });

  it("a block precommitted by half of the stake is not final", () => {
    const r = verifyCommit(header, commitOf(header, signers.slice(0, 2).map((s) => precommit(header, s))), equal);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, /200 of 400 is not more than 2\/3/);
  });

  it("a block precommitted by exactly 2/3 of the stake is not final", () => {
    const three = setOf([1n, 1n, 1n]);
    const h3 = headerFor(hashValidatorSet(three));
    assert.equal(verifyCommit(h3, commitOf(h3, [precommit(h3, signers[0]!), precommit(h3, signers[1]!)]), three).ok, false);
    assert.equal(verifyCommit(h3, commitOf(h3, signers.slice(0, 3).map((s) => precommit(h3, s))), three).ok, true);

    const weighted = setOf([2n, 1n, 1n, 2n]); // total 6: 4 is exactly 2/3, 5 is more
    const hw = headerFor(hashValidatorSet(weighted));
    assert.equal(verifyCommit(hw, commitOf(hw, [precommit(hw, signers[0]!), precommit(hw, signers[3]!)]), weighted).ok, false);
    assert.equal(verifyCommit(hw, commitOf(hw, [precommit(hw, signers[0]!), precommit(hw, signers[3]!), precommit(hw, signers[1]!)]), weighted).ok, true);
  });

  describe("signatures that do not count", () => {
    const two = signers.slice(0, 2).map((s) => precommit(header, s));
    const notFinalBecause = (extra: Hex, reason: RegExp) => {
      const r = verifyCommit(header, commitOf(header, [...two, extra]), equal);
      assert.equal(r.ok, false, "two honest signatures plus this one must not be final");
      if (!r.ok) assert.match(r.reason, reason);
      const withThree = verifyCommit(header, commitOf(header, [...two, extra, precommit(header, signers[2]!)]), equal);
      assert.ok(withThree.ok, "it is merely ignored next to a real quorum");
      assert.equal(withThree.signedStake, 300n);
      assert.equal(withThree.ignored.length, 1);
    };

    it("a forged signature (bytes altered)", () => {
      const forged = precommit(header, signers[3]!);
      notFinalBecause(`${forged.slice(0, 10)}${forged[10] === "0" ? "1" : "0"}${forged.slice(11)}` as Hex, /not a validator|recover|out of range/);
    });
    it("a signature by a key outside the validator set", () => notFinalBecause(precommit(header, outsider), /not a validator/));
    it("the same validator's signature twice", () => notFinalBecause(two[0]!, /duplicate/));
    it("a prevote instead of a precommit", () => notFinalBecause(precommit(header, signers[3]!, { type: VoteType.Prevote }), /not a validator/));
    it("a precommit for another height", () => notFinalBecause(precommit(header, signers[3]!, { height: 13 }), /not a validator/));
    it("a precommit on another chain", () => notFinalBecause(precommit(header, signers[3]!, { chainId: 1 }), /not a validator/));
    it("a precommit for another block", () => notFinalBecause(precommit(header, signers[3]!, { blockHash: ZERO_HASH }), /not a validator/));
    it("a precommit from another round than the commit's", () => notFinalBecause(precommit(header, signers[3]!, {}, 1), /not a validator/));
  });

  it("rejects a header that names another validator set, however well signed", () => {
    const other = headerFor(hashValidatorSet(setOf([100n, 100n, 100n, 101n])));
    const r = verifyCommit(other, commitOf(other, signers.map((s) => precommit(other, s))), equal);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, /validatorsHash/);
  });

  it("rejects a commit for another block or height", () => {
    const sigs = signers.map((s) => precommit(header, s));
    const wrongHash = verifyCommit(header, { ...commitOf(header, sigs), blockHash: ZERO_HASH }, equal);
    assert.equal(wrongHash.ok, false);
    const wrongHeight = verifyCommit(header, { ...commitOf(header, sigs), height: 11 }, equal);
    assert.equal(wrongHeight.ok, false);
  });

  it("rejects malformed input with a reason instead of throwing", () => {
    assert.equal(verifyCommit(header, { ...commitOf(header, []), signatures: ["0x12"] as Hex[] }, equal).ok, false);
    assert.equal(verifyCommit({ ...header, stateRoot: "0x00" } as Header, commitOf(header, []), equal).ok, false);
    assert.equal(verifyCommit(header, null as unknown as Commit, equal).ok, false);
  });
});
