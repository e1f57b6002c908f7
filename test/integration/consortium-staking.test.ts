/**
 * Accountability on the real network: 4 validator OS processes over gRPC, one of which
 * equivocates. The Byzantine side is a harness holding validator 3's key (the devnet's keys
 * come from public seeds) that signs two conflicting prevotes at the heights being decided
 * and gossips them over the peer gRPC to the three honest validators, while validator 3's
 * own process keeps voting honestly. The honest validators must detect it, commit the
 * evidence, slash the stake and drop validator 3 from the set two blocks later, never fork,
 * and keep finalizing with the remaining three.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { type Hex } from "../../proofs/hex.ts";
import { decodeTxResult } from "../../proofs/consortium/results.ts";
import { hashValidatorSet, stakeOf } from "../../proofs/consortium/validators.ts";
import { VoteType, voteDigest } from "../../proofs/consortium/vote.ts";
import { Signer } from "../../chains/consortium/crypto.ts";
import { encodeMessage } from "../../chains/consortium/consensus/messages.ts";
import { type ConsortiumDevnet, devnetValidatorKeys, startConsortiumDevnet } from "../../chains/consortium/devnet.ts";
import { peerServices } from "../../chains/consortium/net/peer-wire.ts";
import { ConsortiumClient } from "../../chains/consortium/rpc/client.ts";
import { decodeTx } from "../../chains/consortium/tx.ts";
import { verifyCommit } from "../../proofs/consortium/commit.ts";
import { eventually } from "./support/eventually.ts";

const BLOCK_MS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type GossipClient = grpc.Client & { gossip(cb: (err: grpc.ServiceError | null) => void): grpc.ClientWritableStream<{ payload: Buffer }> };

describe("consortium network: one validator equivocates", function () {
  this.timeout(120_000);
  let dir: string;
  let devnet: ConsortiumDevnet;
  let clients: ConsortiumClient[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-equivocation-"));
    devnet = await startConsortiumDevnet({ dataDir: dir, blockIntervalMs: BLOCK_MS });
    clients = devnet.processes.map((p) => new ConsortiumClient(p.apiEndpoint));
  });

  after(async () => {
    for (const c of clients ?? []) c.close();
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("commits the evidence, slashes and removes the validator, and keeps finalizing without a fork", async () => {
    const byzantine = Signer.fromPrivateKey(devnetValidatorKeys()[3]!);
    const honest = devnet.processes.filter((_, i) => i !== 3);
    const genesisSet = devnet.validatorSet;
    assert.equal(stakeOf(genesisSet, byzantine.address), 100n);
    const supplyBefore = (await clients[0]!.getStatus()).assets.find((a) => a.symbol === "ISTH")!.supply;

    // The Byzantine harness: conflicting prevotes (two made-up block ids) at the next few heights, to every honest peer.
    const { Peer } = peerServices();
    const peers = honest.map((p) => new Peer(p.p2pEndpoint, grpc.credentials.createInsecure()) as unknown as GossipClient);
    const streams = peers.map((p) => p.gossip(() => undefined));
    const start = (await clients[0]!.getStatus()).height;
    for (let h = start + 1; h <= start + 4; h++) {
      for (const marker of ["a1", "b2"]) {
        const blockHash = `0x${marker.repeat(32)}` as Hex;
        const signature = byzantine.signHex(voteDigest({ chainId: devnet.chainId, height: h, round: 0, type: VoteType.Prevote, blockHash }));
        const payload = Buffer.from(encodeMessage({ type: "vote", voteType: VoteType.Prevote, height: h, round: 0, blockHash, timeMs: 0, signature }));
        for (const s of streams) s.write({ payload });
      }
      await sleep(BLOCK_MS / 2);
    }

    // The evidence lands in a block with an ok result, on every validator alike.
    const found = await eventually("an evidence transaction committed", 30_000, async () => {
      const head = (await clients[0]!.getStatus()).height;
      for (let h = start + 1; h <= head; h++) {
        const block = (await clients[0]!.getBlock(h))!;
        for (const [i, bytes] of block.txs.entries()) {
          const tx = decodeTx(bytes);
          const result = decodeTxResult(block.outcomes[i]!.result);
          if (tx.body.kind === "evidence" && result.ok && result.value.ok) return { height: h, tx, block };
        }
      }
      return undefined;
    });
    assert.equal(found.tx.body.kind === "evidence" && found.tx.body.evidence.voteType, VoteType.Prevote);
    assert.ok(honest.map((p) => p.address).includes(found.tx.from), "submitted by an honest validator that saw the equivocation");
    assert.ok(verifyCommit(found.block.header, found.block.commit, genesisSet).ok, "the block with the evidence is final");

    // Removed from height found.height + 2 on: the header before names the new set, later commits carry 3 signatures.
    const changeHeight = found.height + 2;
    await eventually("blocks past the set change", 30_000, async () => ((await clients[0]!.getStatus()).height >= changeHeight + 3 ? true : undefined));
    const before = (await clients[0]!.getBlock(changeHeight - 1))!;
    const after = (await clients[0]!.getBlock(changeHeight))!;
    const newSet = (await clients[0]!.getValidatorSet(before.header.nextValidatorsHash))!;
    assert.equal(hashValidatorSet(newSet), before.header.nextValidatorsHash);
    assert.equal(before.header.validatorsHash, hashValidatorSet(genesisSet));
    assert.equal(after.header.validatorsHash, hashValidatorSet(newSet));
    assert.equal(stakeOf(newSet, byzantine.address), undefined);
    assert.equal(newSet.validators.length, 3);
    const supplyAfter = (await clients[0]!.getStatus()).assets.find((a) => a.symbol === "ISTH")!.supply;
    assert.equal(supplyBefore - supplyAfter, 10n, "10% (the default slashBps) of 100 burnt");

    // Keeps finalizing with the three honest validators; every node (the slashed one included) agrees on every block.
    const h0 = (await clients[0]!.getStatus()).height;
    await eventually("three more blocks", 20_000, async () => ((await clients[1]!.getStatus()).height >= h0 + 3 ? true : undefined));
    const latest = (await clients[2]!.getBlock(h0 + 2))!;
    const v = verifyCommit(latest.header, latest.commit, newSet);
    assert.ok(v.ok && v.signers.length === 3 && !v.signers.includes(byzantine.address));
    const top = Math.min(...(await Promise.all(clients.map((c) => c.getStatus().then((s) => s.height)))));
    for (let h = Math.max(1, start); h <= top; h++) {
      const hashes = await Promise.all(clients.map((c) => c.getBlock(h).then((b) => b!.hash)));
      assert.equal(new Set(hashes).size, 1, `one block at height ${h} on every validator`);
    }
    for (const s of streams) s.end();
    for (const p of peers) p.close();
  });
});
