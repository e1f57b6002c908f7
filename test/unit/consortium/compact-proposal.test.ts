import assert from "node:assert/strict";
import { hashHeader } from "../../../proofs/consortium/header.ts";
import { NIL_BLOCK_HASH, proposalDigest, VoteType } from "../../../proofs/consortium/vote.ts";
import { type Hex, toHex } from "../../../proofs/hex.ts";
import { keccak256 } from "../../../proofs/consortium/domain.ts";
import { systemClock } from "../../../chains/consortium/clock.ts";
import { CompactProposalTransport, fromRoundProposer } from "../../../chains/consortium/consensus/compact.ts";
import { ConsensusEngine, type SignerStateStore } from "../../../chains/consortium/consensus/engine.ts";
import { type ConsensusMessage, type ProposalMessage, encodeMessage } from "../../../chains/consortium/consensus/messages.ts";
import { ProposerSchedule } from "../../../chains/consortium/consensus/proposer.ts";
import { InProcessNetwork } from "../../../chains/consortium/consensus/transport.ts";
import { txRoot } from "../../../proofs/consortium/results.ts";
import { alice, bob, CHAIN_ID, openChain, testGenesis, tx, until, validatorSigners } from "./helpers.ts";
import { chainApp, ManualTransport } from "./support/engine-harness.ts";

const transfer = (nonce: number, amount: bigint) => tx(alice, nonce, { kind: "transfer", to: bob.address, asset: "KRW", amount });


describe("consortium compact proposals", () => {
  const genesis = testGenesis();
  const schedule = new ProposerSchedule(genesis.validators);
  const byAddress = new Map(validatorSigners.map((s) => [s.address, s]));
  const proposer = byAddress.get(schedule.proposer(1, 0))!;

  function signedProposal(txs: readonly Uint8Array[]): ProposalMessage {
    const chain = openChain(genesis);
    const { block } = chain.propose(txs, Date.now(), proposer.address);
    const signature = proposer.signHex(proposalDigest({ chainId: CHAIN_ID, height: 1, round: 0, blockHash: hashHeader(block.header), polRound: -1, lastCommit: block.lastCommit }));
    return { type: "proposal", height: 1, round: 0, polRound: -1, block, signature };
  }

  it("travel as tx hashes; a receiver missing a tx fetches it and hands the engine the whole block", async () => {
    const t0 = transfer(0, 5n);
    const t1 = transfer(1, 6n);
    const net = new InProcessNetwork();
    const sender = new CompactProposalTransport(net.connect(), () => undefined, fromRoundProposer(openChain(genesis)));
    const receiver = new CompactProposalTransport(net.connect(), (h) => (h === t0.hash ? t0.bytes : undefined), fromRoundProposer(openChain(genesis)));
    const got: ConsensusMessage[] = [];
    receiver.onMessage((m) => got.push(m));
    const proposal = signedProposal([t0.bytes, t1.bytes]);
    sender.broadcast(proposal);
    await until(() => got.length > 0, 5_000, "the assembled proposal");
    const assembled = got[0]!;
    assert.equal(assembled.type, "proposal");
    assert.ok(assembled.type === "proposal");
    assert.equal(hashHeader(assembled.block.header), hashHeader(proposal.block.header));
    assert.deepEqual(assembled.block.txs.map(toHex), [t0.bytes, t1.bytes].map(toHex));
    assert.equal(assembled.block.txs[0], t0.bytes, "a pooled tx is reused, not copied");
    assert.equal(receiver.pendingCount, 0);
    sender.close();
    receiver.close();
  });

  it("a proposer sends along the txs it gossiped moments ago; a receiver that lacks them assembles the block without asking", async () => {
    const pooled = transfer(0, 5n);
    const fresh = transfer(1, 6n);
    const net = new InProcessNetwork();
    // The proposer holds both; only `fresh` is one it has just gossiped (peers may not hold it yet).
    const sender = new CompactProposalTransport(net.connect(), () => undefined, fromRoundProposer(openChain(genesis)), undefined, (tx) => tx === fresh.bytes);
    const receiver = new CompactProposalTransport(net.connect(), (h) => (h === pooled.hash ? pooled.bytes : undefined), fromRoundProposer(openChain(genesis)));
    const seen: ConsensusMessage[] = [];
    const sniffer = net.connect();
    sniffer.onMessage((m) => seen.push(m));
    const got: ConsensusMessage[] = [];
    receiver.onMessage((m) => got.push(m));
    sender.broadcast(signedProposal([pooled.bytes, fresh.bytes]));
    await until(() => got.length > 0, 5_000, "the assembled proposal");
    assert.ok(got[0]!.type === "proposal");
    assert.deepEqual(got[0]!.block.txs.map(toHex), [pooled.bytes, fresh.bytes].map(toHex));
    const along = seen.filter((m) => m.type === "proposal-txs");
    assert.equal(along.length, 1, "one message carries the fresh txs");
    assert.ok(along[0]!.type === "proposal-txs");
    assert.deepEqual(along[0]!.txs.map(toHex), [toHex(fresh.bytes)], "only the fresh tx is sent along");
    await new Promise((r) => setTimeout(r, 60)); // past the first ask: nothing was missing by then
    assert.equal(seen.filter((m) => m.type === "proposal-tx-request").length, 0, "no request was needed");
    for (const t of [sender, receiver, sniffer]) t.close();
  });

  it("the wire form names txs by hash only (no tx bytes)", () => {
    const t0 = transfer(0, 5n);
    const wire = new ManualTransport();
    new CompactProposalTransport(wire, () => undefined, fromRoundProposer(openChain(genesis))).broadcast(signedProposal([t0.bytes]));
    const sent = wire.sent[0]!;
    assert.equal(sent.type, "compact-proposal");
    assert.ok(sent.type === "compact-proposal");
    assert.deepEqual(sent.txHashes, [t0.hash]);
    assert.ok(!encodeMessage(sent).includes(toHex(t0.bytes).slice(2, 80)), "tx bytes are not in the message");
  });

  it("txs that do not hash to a requested hash are ignored; the proposal stays incomplete", async () => {
    const t0 = transfer(0, 5n);
    const other = transfer(0, 7n);
    const wire = new ManualTransport();
    const receiver = new CompactProposalTransport(wire, () => undefined, fromRoundProposer(openChain(genesis)));
    const got: ConsensusMessage[] = [];
    receiver.onMessage((m) => got.push(m));
    const p = signedProposal([t0.bytes]);
    wire.deliver({ type: "compact-proposal", height: 1, round: 0, polRound: -1, header: p.block.header, lastCommit: null, txHashes: [t0.hash], signature: p.signature });
    await until(() => wire.sent.some((m) => m.type === "proposal-tx-request"), 5_000, "a request for the missing tx");
    const request = wire.sent.find((m) => m.type === "proposal-tx-request");
    assert.ok(request && request.type === "proposal-tx-request");
    assert.deepEqual(request.hashes, [t0.hash]);
    wire.deliver({ type: "proposal-txs", height: 1, round: 0, txs: [other.bytes] });
    assert.equal(got.length, 0);
    assert.equal(receiver.pendingCount, 1);
    wire.deliver({ type: "proposal-txs", height: 1, round: 0, txs: [t0.bytes] });
    assert.equal(got.length, 1);
  });

  it("a flood of compact proposals not signed by the round's proposer cannot push the genuine one out while its txs are fetched", () => {
    const t0 = transfer(0, 5n);
    const wire = new ManualTransport();
    const receiver = new CompactProposalTransport(wire, () => undefined, fromRoundProposer(openChain(genesis)));
    const got: ConsensusMessage[] = [];
    receiver.onMessage((m) => got.push(m));
    const p = signedProposal([t0.bytes]);
    const genuine = { type: "compact-proposal", height: 1, round: 0, polRound: -1, header: p.block.header, lastCommit: null, txHashes: [t0.hash], signature: p.signature } as const;
    wire.deliver(genuine);
    // Any peer (the p2p port is not authenticated) sends altered copies, each a new key, while the tx is in flight.
    for (let i = 1; i <= 32; i++) wire.deliver({ ...genuine, header: { ...p.block.header, timeMs: p.block.header.timeMs + i } });
    assert.equal(receiver.pendingCount, 1, "only the genuine proposal is held");
    wire.deliver({ type: "proposal-txs", height: 1, round: 0, txs: [t0.bytes] });
    assert.equal(got.length, 1, "the genuine proposal was assembled");
    assert.ok(got[0]!.type === "proposal" && hashHeader(got[0]!.block.header) === hashHeader(p.block.header));
  });

  it("answers requests for its proposal's txs, a bounded number of times per round", () => {
    const txs = Array.from({ length: 20 }, (_, i) => transfer(i, BigInt(i + 1)));
    const wire = new ManualTransport();
    const proposerSide = new CompactProposalTransport(wire, () => undefined, fromRoundProposer(openChain(genesis)));
    proposerSide.broadcast(signedProposal(txs.map((t) => t.bytes)));
    wire.deliver({ type: "proposal-tx-request", height: 1, round: 0, hashes: [txs[3]!.hash] });
    const first = wire.sent.filter((m) => m.type === "proposal-txs");
    assert.equal(first.length, 1);
    assert.ok(first[0]!.type === "proposal-txs" && toHex(first[0]!.txs[0]!) === toHex(txs[3]!.bytes));
    // A peer varying its requests cannot make this node re-send its txs without bound.
    for (const t of txs) wire.deliver({ type: "proposal-tx-request", height: 1, round: 0, hashes: [t.hash] });
    assert.equal(wire.sent.filter((m) => m.type === "proposal-txs").length, 16);
  });

  it("requests naming other rounds or far heights cannot make a node re-send its pooled txs without bound", () => {
    const pooled = Array.from({ length: 20 }, (_, i) => transfer(i, BigInt(i + 1)));
    const byHash = new Map(pooled.map((t) => [t.hash, t.bytes]));
    const wire = new ManualTransport();
    new CompactProposalTransport(wire, (h) => byHash.get(h), fromRoundProposer(openChain(genesis)));
    const hashes = pooled.map((t) => t.hash);
    // Any peer may ask; each answer goes to every peer. Varying the round (or the height) used to reset the cap.
    for (let round = 0; round < 200; round++) wire.deliver({ type: "proposal-tx-request", height: 1, round, hashes });
    for (let height = 5; height < 100; height++) wire.deliver({ type: "proposal-tx-request", height, round: 0, hashes });
    const answers = wire.sent.filter((m) => m.type === "proposal-txs").length;
    assert.ok(answers > 0, "a request for the next height is answered");
    assert.ok(answers <= 64, `${answers} answers`);
  });

  describe("with a consensus engine behind it", () => {
    let engine: ConsensusEngine | undefined;
    let warnings: string[] = [];
    afterEach(() => engine?.stop());
    beforeEach(() => (warnings = []));
    const log = { debug: () => {}, info: () => {}, error: () => {}, warn: (msg: string, f?: object) => warnings.push(`${msg} ${JSON.stringify(f)}`) };

    // The engine under test is not the proposer of round 0.
    const me = byAddress.get(schedule.proposer(1, 3))!;

    function engineBehind(wire: ManualTransport, lookup: (h: Hex) => Uint8Array | undefined) {
      const chain = openChain(genesis);
      const app = chainApp(chain);
      const signerState: SignerStateStore = { load: () => undefined, save: () => {}, loadBlock: () => undefined };
      const transport = new CompactProposalTransport(wire, lookup, fromRoundProposer(chain));
      engine = new ConsensusEngine({ app, signer: me, transport, clock: systemClock, signerState, log, blockIntervalMs: 0, timeouts: { proposeMs: 300, prevoteMs: 60_000, precommitMs: 60_000, deltaMs: 0 } });
      engine.start();
    }

    const prevotes = (wire: ManualTransport) => wire.sent.filter((m) => m.type === "vote" && m.voteType === VoteType.Prevote && m.round === 0);

    it("a proposal naming a tx nobody can supply gets a nil prevote when the propose timeout fires", async () => {
      const wire = new ManualTransport();
      engineBehind(wire, () => undefined);
      const t0 = transfer(0, 5n);
      const p = signedProposal([t0.bytes]);
      const unknown = toHex(keccak256(Uint8Array.of(1, 2, 3)));
      await new Promise((r) => setTimeout(r, 20));
      wire.deliver({ type: "compact-proposal", height: 1, round: 0, polRound: -1, header: p.block.header, lastCommit: null, txHashes: [unknown], signature: p.signature });
      await until(() => wire.sent.some((m) => m.type === "proposal-tx-request"), 5_000, "a request for the tx");
      await until(() => prevotes(wire).length > 0, 5_000, "a prevote");
      const [vote] = prevotes(wire);
      assert.ok(vote!.type === "vote" && vote.blockHash === NIL_BLOCK_HASH);
    });

    it("a proposal whose fetched tx is invalid (bad signature) gets a nil prevote at once", async () => {
      const wire = new ManualTransport();
      engineBehind(wire, () => undefined);
      const good = transfer(0, 5n);
      const bad = good.bytes.slice();
      bad[bad.length - 10]! ^= 1;
      // The proposer built its block over the damaged tx (a Byzantine proposer; txRoot matches the bytes it names).
      const p = signedProposal([good.bytes]);
      const header = { ...p.block.header, txRoot: txRoot([bad]) };
      const signature = proposer.signHex(proposalDigest({ chainId: CHAIN_ID, height: 1, round: 0, blockHash: hashHeader(header), polRound: -1, lastCommit: null }));
      const badHash = toHex(keccak256(bad));
      await new Promise((r) => setTimeout(r, 20));
      wire.deliver({ type: "compact-proposal", height: 1, round: 0, polRound: -1, header, lastCommit: null, txHashes: [badHash], signature });
      wire.deliver({ type: "proposal-txs", height: 1, round: 0, txs: [bad] });
      assert.equal(prevotes(wire).length, 1, "prevoted on arrival, before the timeout");
      assert.ok(warnings.some((w) => /invalid proposal.*BAD_SIGNATURE/.test(w)), warnings.join("\n"));
      const [vote] = prevotes(wire);
      assert.ok(vote!.type === "vote" && vote.blockHash === NIL_BLOCK_HASH);
    });

    it("a copy with an altered header that arrives first does not stand in for the genuine proposal", async () => {
      const wire = new ManualTransport();
      const t0 = transfer(0, 5n);
      engineBehind(wire, (h) => (h === t0.hash ? t0.bytes : undefined));
      const p = signedProposal([t0.bytes]);
      await new Promise((r) => setTimeout(r, 20));
      const forged = { ...p.block.header, timeMs: p.block.header.timeMs + 1 };
      wire.deliver({ type: "compact-proposal", height: 1, round: 0, polRound: -1, header: forged, lastCommit: null, txHashes: [t0.hash], signature: p.signature });
      assert.equal(prevotes(wire).length, 0, "the forged copy's signature fails: nothing to prevote yet");
      wire.deliver({ type: "compact-proposal", height: 1, round: 0, polRound: -1, header: p.block.header, lastCommit: null, txHashes: [t0.hash], signature: p.signature });
      const [vote] = prevotes(wire);
      assert.ok(vote && vote.type === "vote" && vote.blockHash === hashHeader(p.block.header), "the genuine proposal was assembled and prevoted");
    });

    it("a complete compact proposal of valid pooled txs gets a prevote for its block", async () => {
      const wire = new ManualTransport();
      const t0 = transfer(0, 5n);
      engineBehind(wire, (h) => (h === t0.hash ? t0.bytes : undefined));
      const p = signedProposal([t0.bytes]);
      await new Promise((r) => setTimeout(r, 20));
      wire.deliver({ type: "compact-proposal", height: 1, round: 0, polRound: -1, header: p.block.header, lastCommit: null, txHashes: [t0.hash], signature: p.signature });
      const [vote] = prevotes(wire);
      assert.ok(vote && vote.type === "vote" && vote.blockHash === hashHeader(p.block.header));
    });
  });
});
