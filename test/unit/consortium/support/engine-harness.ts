/**
 * What the consensus-engine tests share: a transport the test drives by hand, an engine app
 * backed by a real chain, and signer state kept in memory.
 */
import { type Hex } from "../../../../proofs/hex.ts";
import { voteDigest } from "../../../../proofs/consortium/vote.ts";
import { type Chain } from "../../../../chains/consortium/chain.ts";
import { type Signer } from "../../../../chains/consortium/crypto.ts";
import { type ConsensusApp, type SignerStateStore } from "../../../../chains/consortium/consensus/engine.ts";
import { type ConsensusMessage, type VoteMessage, decodeMessage, encodeMessage } from "../../../../chains/consortium/consensus/messages.ts";
import { type Transport } from "../../../../chains/consortium/consensus/transport.ts";
import { CHAIN_ID } from "../helpers.ts";

/** Records what the engine sends and delivers what the test says, each through the wire encoding. */
export class ManualTransport implements Transport {
  readonly sent: ConsensusMessage[] = [];
  #handler: ((m: ConsensusMessage) => void) | null = null;
  broadcast(msg: ConsensusMessage): void {
    this.sent.push(decodeMessage(encodeMessage(msg))!);
  }
  onMessage(handler: (m: ConsensusMessage) => void): () => void {
    this.#handler = handler;
    return () => (this.#handler = null);
  }
  close(): void {}
  deliver(msg: ConsensusMessage): void {
    this.#handler!(decodeMessage(encodeMessage(msg))!);
  }
  votes(type: number, round: number): VoteMessage[] {
    return this.sent.filter((m): m is VoteMessage => m.type === "vote" && m.voteType === type && m.round === round);
  }
}

/** An engine app over a real chain that proposes empty blocks; `committed` answers catch-up requests. */
export function chainApp(chain: Chain, committed: ConsensusApp["committed"] = () => undefined): ConsensusApp {
  return {
    chainId: chain.chainId,
    validatorSetAt: (h) => chain.validatorSetAt(h),
    head: () => chain.head,
    propose: (timeMs, proposer) => chain.propose([], timeMs, proposer).block,
    check: (b) => chain.check(b),
    commit: (b, c) => void chain.commit(b, c),
    committed,
    pendingTxs: () => 0,
  };
}

/** Signer state in memory, saved by value (as a store would). */
export function memoryState(): SignerStateStore {
  let saved: unknown;
  const blocks = new Map<string, unknown>();
  return {
    load: () => saved,
    save: (s, named) => {
      for (const b of named) if (!blocks.has(b.hash)) blocks.set(b.hash, structuredClone(b.json()));
      saved = structuredClone(s);
    },
    loadBlock: (hash) => blocks.get(hash),
  };
}

/** `by`'s signed vote of `type` (1 prevote, 2 precommit) at height 1. */
export function vote(by: Signer, type: 1 | 2, round: number, blockHash: Hex): ConsensusMessage {
  return {
    type: "vote",
    voteType: type,
    height: 1,
    round,
    blockHash,
    timeMs: 0,
    signature: by.signHex(voteDigest({ chainId: CHAIN_ID, height: 1, round, type, blockHash })),
  };
}
