/** Fixtures shared by the consortium tests: keys, genesis, signed txs and commits. */
import { sha256 } from "@noble/hashes/sha2.js";
import { type Hex, toHex } from "../../../proofs/hex.ts";
import { type Commit } from "../../../proofs/consortium/commit.ts";
import { hashHeader } from "../../../proofs/consortium/header.ts";
import { VoteType, voteDigest } from "../../../proofs/consortium/vote.ts";
import { type Block } from "../../../chains/consortium/block.ts";
import { Chain } from "../../../chains/consortium/chain.ts";
import { derivePrivateKey, Signer } from "../../../chains/consortium/crypto.ts";
import { type Genesis, makeGenesis } from "../../../chains/consortium/genesis.ts";
import { BlockStore } from "../../../chains/consortium/store.ts";
import { type SignedTx, type TxBody, signTx } from "../../../chains/consortium/tx.ts";

export const CHAIN_ID = 31_337;
export const validatorKeys: Hex[] = [0, 1, 2, 3].map((i) => derivePrivateKey("test/validator", i));
export const validatorSigners = validatorKeys.map((k) => Signer.fromPrivateKey(k));
export const alice = Signer.fromPrivateKey(derivePrivateKey("test/user", 0));
export const bob = Signer.fromPrivateKey(derivePrivateKey("test/user", 1));
export const carol = Signer.fromPrivateKey(derivePrivateKey("test/user", 2));
export const krwIssuer = Signer.fromPrivateKey(derivePrivateKey("test/issuer", 0));

/** 1 000 000.00 KRW and 1 ISTH for alice; validators staked 100 each unless `stakes` says otherwise. */
export function testGenesis(opts: { stakes?: bigint[]; timeMs?: number } = {}): Genesis {
  const stakes = opts.stakes ?? [100n, 100n, 100n, 100n];
  return makeGenesis({
    chainId: CHAIN_ID,
    timeMs: opts.timeMs ?? Date.now() - 10_000,
    validators: stakes.map((stake, i) => ({ address: validatorSigners[i]!.address, stake })),
    assets: [{ symbol: "KRW", decimals: 2, issuer: krwIssuer.address }],
    balances: [
      { address: alice.address, asset: "KRW", amount: 100_000_000n },
      { address: alice.address, asset: "ISTH", amount: 10n ** 18n },
    ],
  });
}

export function openChain(genesis: Genesis = testGenesis(), path = ":memory:"): Chain {
  return Chain.open({ genesis, store: new BlockStore(path) });
}

export function tx(signer: Signer, nonce: number, body: TxBody, chainId = CHAIN_ID): SignedTx {
  return signTx(signer, { chainId, nonce, body });
}

/** Precommit signatures of `signers` on the block with `header` in `round`, each signing `timeMs` (default header time + 1). */
export function commitFor(block: Pick<Block, "header">, signers: readonly Signer[] = validatorSigners, round = 0, timeMs = block.header.timeMs + 1): Commit {
  const blockHash = hashHeader(block.header);
  const digest = voteDigest({ chainId: block.header.chainId, height: block.header.height, round, type: VoteType.Precommit, blockHash, timeMs });
  return { height: block.header.height, round, blockHash, signatures: signers.map((s) => s.signHex(digest)), timesMs: signers.map(() => timeMs) };
}

/**
 * Proposes `txs` at block time `timeMs` and commits the block with every validator's
 * signature. Past height 1 the time comes from the lastCommit, so the head's commit is
 * re-signed with every precommit at `timeMs` (as if every validator's clock read it).
 */
export function commitBlock(chain: Chain, txs: readonly SignedTx[], timeMs: number) {
  const head = chain.head;
  const lastCommit = head.header.height === 0 ? null : commitFor({ header: head.header }, validatorSigners, head.commit!.round, timeMs);
  const { block } = chain.propose(txs.map((t) => t.bytes), timeMs, validatorSigners[0]!.address, lastCommit);
  return chain.commit(block, commitFor(block));
}

export function secret(byte: number): { preimage: Hex; hashlock: Hex } {
  const preimage = new Uint8Array(32).fill(byte);
  return { preimage: toHex(preimage), hashlock: toHex(sha256(preimage)) };
}

export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
