/**
 * Checks that a Fabric send reached the ledger at most once, for tests that disturb the
 * path between the adapter and the peer (a lost Submit answer, a peer restart).
 *
 * A double submission shows in one of two ways: the same signed envelope ordered twice (the
 * second copy is in a block, flagged DUPLICATE_TXID), or the call endorsed again after its
 * first transaction committed (the chaincode refuses the second: LOCK_EXISTS to the caller).
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { common, peer } from "@hyperledger/fabric-protos";
import { LedgerError } from "../../../chains/errors.ts";
import { decodeBlockTxs, type BlockTx } from "../../../chains/fabric/block.ts";
import type { FabricNode } from "../../../chains/fabric/devnet.ts";
import type { FabricNetwork } from "../../../chains/fabric/network.ts";

/**
 * Stops the peer with no grace: calls in flight (a client's CommitStatus wait above all) are
 * cut off at once, while envelopes the orderer already accepted are still committed. So some
 * senders are left not knowing their tx committed, the case that tempts a second submission.
 * (A graceful close answers every waiting CommitStatus first, and never creates that case.)
 */
export async function stopPeerAbruptly(node: FabricNode): Promise<void> {
  await node.network.close(0);
  await node.close();
}

/** Every transaction in the network's blocks from `from` to its head, with its validation code. */
export function txsSince(network: FabricNetwork, from: number): (BlockTx & { block: number })[] {
  const out: (BlockTx & { block: number })[] = [];
  for (let n = from; n < network.store.height; n++) {
    const bytes = network.store.getBlockBytes(n);
    assert.ok(bytes, `block ${n} is stored`);
    for (const tx of decodeBlockTxs(common.Block.deserializeBinary(bytes))) out.push({ ...tx, block: n });
  }
  return out;
}

/** No envelope was ordered twice since block `from`: no DUPLICATE_TXID, no tx id in two places. */
export function assertNoEnvelopeOrderedTwice(network: FabricNetwork, from: number): void {
  const txs = txsSince(network, from);
  const dup = txs.filter((t) => t.code === peer.TxValidationCode.DUPLICATE_TXID);
  assert.deepEqual(dup.map((t) => `${t.txId} in block ${t.block}`), [], "no envelope ordered twice (DUPLICATE_TXID)");
  const ids = txs.map((t) => t.txId).filter((id) => id !== "");
  assert.equal(new Set(ids).size, ids.length, "each tx id in one block only");
}

/**
 * How a send may fail while its peer is away: the peer could not be reached, the commit
 * could not be confirmed, its endorsement was cut off by the peer stopping (gRPC CANCELLED:
 * nothing was endorsed), or its MVCC conflict retries ran out (concurrent sends from one
 * identity). Anything else, LOCK_EXISTS (endorsed again after the first commit) or
 * TX_INVALID for DUPLICATE_TXID (its envelope ordered twice) above all, fails the check.
 */
export function assertPeerAwayFailure(reason: unknown): void {
  assert.ok(reason instanceof LedgerError, `a typed error: ${String(reason)}`);
  const conflict = reason.code === "TX_INVALID" && ["MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"].includes(String(reason.details.validationCode));
  const endorsementCutOff = reason.code === "ENDORSE_FAILED" && reason.details.grpcCode === grpc.status.CANCELLED;
  assert.ok(["UNAVAILABLE", "TIMEOUT"].includes(reason.code) || conflict || endorsementCutOff, `a send failed only for want of the peer, not ${reason.code}: ${reason.message}`);
}
