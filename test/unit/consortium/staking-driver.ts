/** A chain copy driven block by block for the staking tests (no network, every member signs). */
import assert from "node:assert/strict";
import { type Hex } from "../../../proofs/hex.ts";
import { type DuplicateVoteEvidence } from "../../../proofs/consortium/evidence.ts";
import { decodeTxResult } from "../../../proofs/consortium/results.ts";
import { stakeOf } from "../../../proofs/consortium/validators.ts";
import { VoteType, voteDigest } from "../../../proofs/consortium/vote.ts";
import { type Chain } from "../../../chains/consortium/chain.ts";
import { type CommittedBlock } from "../../../chains/consortium/block.ts";
import { type Signer } from "../../../chains/consortium/crypto.ts";
import { makeGenesis } from "../../../chains/consortium/genesis.ts";
import { type TxBody } from "../../../chains/consortium/tx.ts";
import { CHAIN_ID, alice, carol, commitFor, openChain, tx, validatorSigners } from "./helpers.ts";

export const UNBONDING = 5;
const ISTH = 10n ** 18n;

export function stakingGenesis() {
  return makeGenesis({
    chainId: CHAIN_ID,
    timeMs: Date.now() - 100_000,
    validators: validatorSigners.map((s) => ({ address: s.address, stake: 100n })),
    balances: [
      { address: alice.address, asset: "ISTH", amount: ISTH },
      { address: carol.address, asset: "ISTH", amount: 1000n },
    ],
    staking: { unbondingBlocks: UNBONDING, minBond: 50n, slashBps: 2500 },
  });
}

/** Drives one chain copy: every block signed by every current member (plus carol once she is one). */
export class Driver {
  readonly chain: Chain;
  readonly nonces = new Map<Hex, number>();
  #time: number;
  readonly signers: Signer[] = [...validatorSigners, carol];

  constructor() {
    this.chain = openChain(stakingGenesis());
    this.#time = this.chain.genesis.timeMs + 1000;
  }

  /** Commits one block of `txs` (signed by their senders), returning its outcomes' codes ("" = ok). */
  block(txs: [Signer, TxBody][] = []): { block: CommittedBlock; codes: string[] } {
    this.#time += 1000;
    const signed = txs.map(([s, body]) => {
      const n = this.nonces.get(s.address) ?? 0;
      this.nonces.set(s.address, n + 1);
      return tx(s, n, body);
    });
    const head = this.chain.head;
    const prevSigners = head.header.height === 0 ? [] : this.members(head.header.height);
    const lastCommit = head.header.height === 0 ? null : commitFor({ header: head.header }, prevSigners, head.commit!.round, this.#time);
    const height = head.header.height + 1;
    const proposer = this.members(height)[0]!.address;
    const { block } = this.chain.propose(signed.map((t) => t.bytes), this.#time, proposer, lastCommit);
    const committed = this.chain.commit(block, commitFor(block, this.members(height)));
    const codes = committed.outcomes.map((o) => {
      const r = decodeTxResult(o.result);
      assert.ok(r.ok);
      return r.value.code;
    });
    return { block: committed, codes };
  }

  members(height: number): Signer[] {
    const set = this.chain.validatorSetAt(height);
    return this.signers.filter((s) => stakeOf(set, s.address) !== undefined);
  }
}

export function conflictingPrevotes(signer: Signer, height: number, round = 0): DuplicateVoteEvidence {
  const sign = (blockHash: Hex) => signer.signHex(voteDigest({ chainId: CHAIN_ID, height, round, type: VoteType.Prevote, blockHash }));
  const a = `0x${"aa".repeat(32)}` as Hex;
  const b = `0x${"bb".repeat(32)}` as Hex;
  return { height, round, voteType: VoteType.Prevote, a: { blockHash: a, timeMs: 0, signature: sign(a) }, b: { blockHash: b, timeMs: 0, signature: sign(b) } };
}

