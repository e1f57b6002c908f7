/**
 * Round timeouts grow per round (Tendermint's liveness after GST: a round eventually lasts
 * long enough for the network). One engine in virtual time, its peers scripted: every
 * round's proposer stays silent and the peers' votes never agree, so each round ends on its
 * three timeouts. Each timeout is measured as the virtual time from the event that arms it
 * to the engine's reaction, never by the wall clock.
 */
import assert from "node:assert/strict";
import { type Hex } from "../../../proofs/hex.ts";
import { NIL_BLOCK_HASH, VoteType } from "../../../proofs/consortium/vote.ts";
import { type Signer } from "../../../chains/consortium/crypto.ts";
import { ConsensusEngine } from "../../../chains/consortium/consensus/engine.ts";
import { ProposerSchedule } from "../../../chains/consortium/consensus/proposer.ts";
import { openChain, testGenesis, validatorSigners } from "./helpers.ts";
import { chainApp, ManualTransport, memoryState, vote } from "./support/engine-harness.ts";
import { VirtualTime } from "./support/virtual-time.ts";

const TIMEOUTS = { proposeMs: 1000, prevoteMs: 500, precommitMs: 300, deltaMs: 250 };
const ROUNDS = 5;


describe("consortium consensus engine: round timeouts grow per round", () => {
  it(`propose, prevote and precommit timeouts of round r are base + r * delta, each longer than round r-1's (rounds 0..${ROUNDS - 1})`, () => {
    // The engine under test holds 1 of 31 stake, so it proposes once in 31 rounds and never in
    // the rounds measured here; the peers who propose in them stay silent.
    const genesis = testGenesis({ stakes: [1n, 10n, 10n, 10n], timeMs: 1_700_000_000_000 });
    const schedule = new ProposerSchedule(genesis.validators);
    const [me, ...peers] = validatorSigners as [Signer, ...Signer[]];
    assert.ok([...Array(ROUNDS).keys()].every((r) => schedule.proposer(1, r) !== me.address));

    const time = new VirtualTime();
    const chain = openChain(genesis);
    const app = chainApp(chain);
    const transport = new ManualTransport();
    const engine = new ConsensusEngine({ app, signer: me, transport, clock: time.clock(genesis.timeMs + 1000), timers: time, signerState: memoryState(), blockIntervalMs: 0, timeouts: TIMEOUTS });
    /** Advances virtual time 1 ms at a time until `done` (the engine acts only on timers and deliveries). */
    const waitFor = (done: () => boolean, what: string): number => {
      const from = time.now();
      while (!done()) {
        if (time.now() - from > 60_000) throw new Error(`no ${what} within 60 s of virtual time`);
        time.advance(1);
      }
      return time.now() - from;
    };

    engine.start();
    const measured = { propose: [] as number[], prevote: [] as number[], precommit: [] as number[] };
    try {
      waitFor(() => engine.round === 0 && !transport.sent.some((m) => m.type === "vote"), "round 0");
      for (let r = 0; r < ROUNDS; r++) {
        // No proposal: the propose timeout ends the propose step with a nil prevote.
        measured.propose.push(waitFor(() => transport.votes(VoteType.Prevote, r)[0] !== undefined, `prevote in round ${r}`));
        assert.equal(transport.votes(VoteType.Prevote, r)[0]!.blockHash, NIL_BLOCK_HASH);
        // +2/3 prevotes that agree on nothing arm the prevote timeout, which precommits nil.
        transport.deliver(vote(peers[0]!, VoteType.Prevote, r, NIL_BLOCK_HASH));
        transport.deliver(vote(peers[1]!, VoteType.Prevote, r, `0x${"ab".repeat(32)}` as Hex));
        transport.deliver(vote(peers[2]!, VoteType.Prevote, r, `0x${"cd".repeat(32)}` as Hex));
        measured.prevote.push(waitFor(() => transport.votes(VoteType.Precommit, r)[0] !== undefined, `precommit in round ${r}`));
        assert.equal(transport.votes(VoteType.Precommit, r)[0]!.blockHash, NIL_BLOCK_HASH);
        // +2/3 precommits without a decision arm the precommit timeout, which starts the next round.
        for (const peer of peers) transport.deliver(vote(peer, VoteType.Precommit, r, NIL_BLOCK_HASH));
        measured.precommit.push(waitFor(() => engine.round === r + 1, `round ${r + 1}`));
      }
    } finally {
      engine.stop();
    }

    const base = { propose: TIMEOUTS.proposeMs, prevote: TIMEOUTS.prevoteMs, precommit: TIMEOUTS.precommitMs };
    for (const step of ["propose", "prevote", "precommit"] as const) {
      assert.deepEqual(measured[step], [...Array(ROUNDS).keys()].map((r) => base[step] + r * TIMEOUTS.deltaMs), `${step} timeouts per round`);
      for (let r = 1; r < ROUNDS; r++) assert.ok(measured[step][r]! > measured[step][r - 1]!, `${step} timeout of round ${r} is longer than round ${r - 1}'s`);
    }
  });
});
