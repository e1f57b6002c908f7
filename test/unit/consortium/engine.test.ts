import assert from "node:assert/strict";
import { hashHeader } from "../../../proofs/consortium/header.ts";
import { NIL_BLOCK_HASH, proposalDigest, VoteType } from "../../../proofs/consortium/vote.ts";
import { type Block } from "../../../chains/consortium/block.ts";
import { systemClock } from "../../../chains/consortium/clock.ts";
import { ConsensusEngine, type SignerStateStore } from "../../../chains/consortium/consensus/engine.ts";
import { type ConsensusMessage } from "../../../chains/consortium/consensus/messages.ts";
import { ProposerSchedule } from "../../../chains/consortium/consensus/proposer.ts";
import { CHAIN_ID, openChain, testGenesis, until, validatorSigners } from "./helpers.ts";
import { chainApp, ManualTransport, memoryState, vote } from "./support/engine-harness.ts";

const tick = () => new Promise((r) => setTimeout(r, 20));
const LONG = { proposeMs: 60_000, prevoteMs: 60_000, precommitMs: 60_000, deltaMs: 0 };

describe("consortium consensus engine: Tendermint locking", () => {
  const genesis = testGenesis();
  const schedule = new ProposerSchedule(genesis.validators);
  const byAddress = new Map(validatorSigners.map((s) => [s.address, s]));
  // Height 1, rounds 0..2 are proposed by schedule[1..3]; the engine under test is schedule[0], never the proposer here.
  const me = byAddress.get(schedule.proposer(1, 3))!;
  const others = [0, 1, 2].map((r) => byAddress.get(schedule.proposer(1, r))!);
  let engine: ConsensusEngine | undefined;
  afterEach(() => engine?.stop());

  function setup(signerState: SignerStateStore = memoryState()) {
    const chain = openChain(genesis);
    const app = chainApp(chain);
    const transport = new ManualTransport();
    engine = new ConsensusEngine({ app, signer: me, transport, clock: systemClock, signerState, blockIntervalMs: 0, timeouts: LONG });
    const blockAt = (offsetMs: number): Block => chain.propose([], Date.now() + offsetMs, others[0]!.address).block;
    return { chain, transport, p1: blockAt(0), p2: blockAt(1), signerState };
  }

  const proposal = (round: number, block: Block, polRound = -1): ConsensusMessage => {
    const proposer = byAddress.get(schedule.proposer(1, round))!;
    const blockHash = hashHeader(block.header);
    const signature = proposer.signHex(proposalDigest({ chainId: CHAIN_ID, height: 1, round, blockHash, polRound, lastCommit: block.lastCommit }));
    return { type: "proposal", height: 1, round, polRound, block, signature };
  };

  /** Round 0: the engine prevotes p1, sees a polka for it, locks on it and precommits it. */
  async function lockOnP1(t: ReturnType<typeof setup>) {
    engine!.start();
    t.transport.deliver(proposal(0, t.p1));
    await tick();
    assert.equal(t.transport.votes(VoteType.Prevote, 0)[0]?.blockHash, hashHeader(t.p1.header));
    t.transport.deliver(vote(others[0]!, VoteType.Prevote, 0, hashHeader(t.p1.header)));
    t.transport.deliver(vote(others[1]!, VoteType.Prevote, 0, hashHeader(t.p1.header)));
    assert.equal(t.transport.votes(VoteType.Precommit, 0)[0]?.blockHash, hashHeader(t.p1.header), "locked and precommitted p1");
  }

  it("a validator locked on a block prevotes nil for a different fresh proposal in a later round", async () => {
    const t = setup();
    await lockOnP1(t);
    t.transport.deliver(vote(others[0]!, VoteType.Prevote, 1, NIL_BLOCK_HASH));
    t.transport.deliver(vote(others[1]!, VoteType.Prevote, 1, NIL_BLOCK_HASH)); // >1/3 in round 1: skip there
    assert.equal(engine!.round, 1);
    t.transport.deliver(proposal(1, t.p2));
    assert.equal(t.transport.votes(VoteType.Prevote, 1)[0]?.blockHash, NIL_BLOCK_HASH);
  });

  it("a newer polka unlocks: a re-proposal backed by +2/3 prevotes in a later round gets the locked validator's prevote", async () => {
    const t = setup();
    await lockOnP1(t);
    const h2 = hashHeader(t.p2.header);
    for (const o of others) t.transport.deliver(vote(o, VoteType.Prevote, 1, h2)); // polka for p2 in round 1 (unseen proposal)
    assert.equal(engine!.round, 1);
    assert.equal(t.transport.votes(VoteType.Prevote, 1).length, 0, "no proposal seen in round 1: nothing signed yet");
    t.transport.deliver(proposal(2, t.p2, 1));
    t.transport.deliver(vote(others[0]!, VoteType.Prevote, 2, h2));
    t.transport.deliver(vote(others[1]!, VoteType.Prevote, 2, h2));
    assert.equal(engine!.round, 2);
    assert.equal(t.transport.votes(VoteType.Prevote, 2)[0]?.blockHash, h2);
  });

  it("a re-proposal whose polRound a peer changed after signing is ignored; the signed one is prevoted", async () => {
    const t = setup();
    await lockOnP1(t);
    const h2 = hashHeader(t.p2.header);
    for (const o of others) t.transport.deliver(vote(o, VoteType.Prevote, 1, h2)); // polka for p2 in round 1
    const signed = proposal(2, t.p2, 1);
    assert.ok(signed.type === "proposal");
    // A relaying peer claims the polka was in round 0 (where there was none): the signature no longer covers it.
    t.transport.deliver({ ...signed, polRound: 0 });
    t.transport.deliver(vote(others[0]!, VoteType.Prevote, 2, h2));
    t.transport.deliver(vote(others[1]!, VoteType.Prevote, 2, h2));
    assert.equal(engine!.round, 2);
    assert.equal(t.transport.votes(VoteType.Prevote, 2).length, 0, "the altered copy was not taken as the round's proposal");
    t.transport.deliver(signed);
    assert.equal(t.transport.votes(VoteType.Prevote, 2)[0]?.blockHash, h2);
  });

  it("after a restart at the same height it resumes in the next round, still locked", async () => {
    const state = memoryState();
    const first = setup(state);
    await lockOnP1(first);
    engine!.stop();
    const again = setup(state);
    engine!.start();
    assert.equal(engine!.round, 1, "never signs again in round 0");
    again.transport.deliver(proposal(1, again.p2));
    assert.equal(again.transport.votes(VoteType.Prevote, 1)[0]?.blockHash, NIL_BLOCK_HASH, "the lock on p1 survived");
  });

  it("decides on +2/3 precommits and stores the commit", async () => {
    const t = setup();
    await lockOnP1(t);
    t.transport.deliver(vote(others[0]!, VoteType.Precommit, 0, hashHeader(t.p1.header)));
    t.transport.deliver(vote(others[1]!, VoteType.Precommit, 0, hashHeader(t.p1.header)));
    assert.equal(t.chain.height, 1);
    assert.equal(t.chain.head.commit!.signatures.length, 3);
    assert.equal(engine!.height, 2);
  });
});


describe("consortium consensus engine: when round 0 starts", () => {
  const genesis = testGenesis();
  const schedule = new ProposerSchedule(genesis.validators);
  const byAddress = new Map(validatorSigners.map((s) => [s.address, s]));
  let engine: ConsensusEngine | undefined;
  afterEach(() => engine?.stop());

  /** An engine with an idle block interval of a minute; `pending` is what its mempool holds. */
  function idleEngine(signer: (typeof validatorSigners)[number]) {
    const transport = new ManualTransport();
    let pending = 0;
    const app = { ...chainApp(openChain(genesis)), pendingTxs: () => pending };
    engine = new ConsensusEngine({ app, signer, transport, clock: systemClock, signerState: memoryState(), blockIntervalMs: 60_000, timeouts: LONG });
    engine.start();
    const proposals = () => transport.sent.filter((m) => m.type === "proposal");
    return { transport, proposals, setPending: (n: number) => (pending = n) };
  }

  it("the round-0 proposer waiting out an idle interval proposes soon after txs arrive", async () => {
    const t = idleEngine(byAddress.get(schedule.proposer(1, 0))!);
    await tick();
    assert.equal(t.proposals().length, 0, "idle: it waits the block interval");
    engine!.txsArrived();
    assert.equal(t.proposals().length, 0, "no pending txs: still waiting");
    t.setPending(3);
    engine!.txsArrived();
    engine!.txsArrived();
    assert.equal(t.proposals().length, 0, "not inside admission: it gathers what arrives with them first");
    await until(() => t.proposals().length > 0, 5_000, "a proposal soon after");
    engine!.txsArrived();
    await tick();
    assert.equal(t.proposals().length, 1, "once per round");
  });

  it("a validator that is not the round-0 proposer keeps waiting (it joins on the proposal)", async () => {
    const t = idleEngine(byAddress.get(schedule.proposer(1, 1))!);
    t.setPending(3);
    engine!.txsArrived();
    await tick();
    assert.equal(t.proposals().length, 0);
    assert.equal(t.transport.sent.length, 0, "no vote either");
  });
});
