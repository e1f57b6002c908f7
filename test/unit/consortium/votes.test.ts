import assert from "node:assert/strict";
import { type Hex } from "../../../proofs/hex.ts";
import { NIL_BLOCK_HASH, VoteType } from "../../../proofs/consortium/vote.ts";
import { type Vote, VoteSet } from "../../../chains/consortium/consensus/votes.ts";
import { testGenesis, validatorSigners } from "./helpers.ts";

const A = `0x${"aa".repeat(32)}` as Hex;
const B = `0x${"bb".repeat(32)}` as Hex;
const [v0, v1, v2, byz] = validatorSigners.map((s) => s.address) as [Hex, Hex, Hex, Hex];
const prevote = (validator: Hex, blockHash: Hex): Vote => ({ type: VoteType.Prevote, round: 0, blockHash, validator, signature: `0x${validator.slice(2, 4).repeat(65)}` as Hex, timeMs: 0 });

describe("consortium vote sets: an equivocator's conflicting vote", () => {
  const set = () => new VoteSet(testGenesis().validators);

  it("is reported and not counted, until a proposal claims a polka for its block: then it counts for that block only", () => {
    const votes = set();
    votes.add(prevote(byz, NIL_BLOCK_HASH)); // what this validator was told first
    votes.add(prevote(v0, A));
    votes.add(prevote(v1, A));
    assert.equal(votes.add(prevote(byz, A)), "equivocation"); // what the proposer was told
    assert.equal(votes.hasSupermajorityFor(A), false);
    votes.track(A);
    assert.equal(votes.hasSupermajorityFor(A), true);
    assert.equal(votes.commitParts(A).signatures.length, 3);
    assert.equal(votes.voteOf(byz)!.blockHash, NIL_BLOCK_HASH, "its first vote is still the one that counts elsewhere");
    assert.equal(votes.hasSupermajorityAny(), true);
    assert.equal(votes.hasSupermajorityFor(NIL_BLOCK_HASH), false);
  });

  it("counts on arrival for a block already tracked, once, and never for an untracked one", () => {
    const votes = set();
    votes.track(A);
    votes.add(prevote(byz, B));
    votes.add(prevote(v0, A));
    votes.add(prevote(v1, A));
    votes.add(prevote(byz, A));
    votes.add(prevote(byz, A));
    assert.equal(votes.hasSupermajorityFor(A), true);
    assert.equal(votes.commitParts(A).signatures.length, 3);
    votes.add(prevote(v2, NIL_BLOCK_HASH));
    votes.add(prevote(v2, B)); // conflicting, B untracked
    assert.equal(votes.commitParts(B).signatures.length, 1);
  });
});
