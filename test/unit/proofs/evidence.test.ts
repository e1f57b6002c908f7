/** proofs/consortium/evidence: what counts as proof of equivocation, checked against a set. */
import assert from "node:assert/strict";
import { type Hex } from "../../../proofs/hex.ts";
import { type DuplicateVoteEvidence, evidenceHash, verifyEvidence } from "../../../proofs/consortium/evidence.ts";
import { makeValidatorSet } from "../../../proofs/consortium/validators.ts";
import { VoteType, voteDigest } from "../../../proofs/consortium/vote.ts";
import { derivePrivateKey, Signer } from "../../../chains/consortium/crypto.ts";

const CHAIN = 77;
const keys = [0, 1, 2].map((i) => Signer.fromPrivateKey(derivePrivateKey("test/evidence", i)));
const set = makeValidatorSet(keys.map((k) => ({ address: k.address, stake: 10n })));
const A = `0x${"0a".repeat(32)}` as Hex;
const B = `0x${"0b".repeat(32)}` as Hex;

function precommits(signer: Signer, height = 9, round = 2, times: [number, number] = [1000, 2000]): DuplicateVoteEvidence {
  const sign = (blockHash: Hex, timeMs: number) => signer.signHex(voteDigest({ chainId: CHAIN, height, round, type: VoteType.Precommit, blockHash, timeMs }));
  return { height, round, voteType: VoteType.Precommit, a: { blockHash: A, timeMs: times[0], signature: sign(A, times[0]) }, b: { blockHash: B, timeMs: times[1], signature: sign(B, times[1]) } };
}

describe("proofs/consortium/evidence: duplicate votes", () => {
  it("two precommits of one validator for different blocks prove equivocation; the id ignores the order", () => {
    const e = precommits(keys[1]!);
    const r = verifyEvidence(CHAIN, e, set);
    assert.ok(r.ok);
    assert.equal(r.validator, keys[1]!.address);
    assert.equal(r.stake, 10n);
    assert.equal(r.evidenceHash, evidenceHash({ ...e, a: e.b, b: e.a }));
    assert.notEqual(r.evidenceHash, evidenceHash(precommits(keys[1]!, 9, 3)));
  });

  it("refuses what proves nothing", () => {
    const e = precommits(keys[0]!);
    const cases: [string, DuplicateVoteEvidence, number, RegExp][] = [
      ["same block id", { ...e, b: e.a }, CHAIN, /same block id/],
      ["two signers", { ...e, b: precommits(keys[2]!).b }, CHAIN, /different keys/],
      ["another chain", e, CHAIN + 1, /different keys|not a validator/],
      ["another height", { ...e, height: 10 }, CHAIN, /not a validator|different keys/],
      ["a signed time changed", { ...e, a: { ...e.a, timeMs: 1001 } }, CHAIN, /different keys|not a validator/],
      ["a prevote type with precommit signatures", { ...e, voteType: VoteType.Prevote }, CHAIN, /different keys|not a validator/],
      ["a signature that does not parse", { ...e, a: { ...e.a, signature: `0x${"00".repeat(65)}` } }, CHAIN, /vote a/],
    ];
    for (const [name, ev, chainId, reason] of cases) {
      const r = verifyEvidence(chainId, ev, set);
      assert.equal(r.ok, false, `${name}: ${JSON.stringify(r)}`);
      if (!r.ok) assert.match(r.reason, reason, name);
    }
    const outsider = Signer.fromPrivateKey(derivePrivateKey("test/evidence", 9));
    const r = verifyEvidence(CHAIN, precommits(outsider), set);
    assert.ok(!r.ok && /not a validator at height 9/.test(r.reason));
  });
});
