/**
 * One seeded consensus run in virtual time: four validators with the given stakes, real
 * chains and real engines for the honest ones, an optional Byzantine one, and a network that
 * drops, delays and reorders until GST. Reports every block each honest validator committed,
 * so a test can check that no two differ at a height (safety) and that they kept committing
 * after GST (liveness).
 */
import { type Hex } from "../../../../proofs/hex.ts";
import { type ConsensusTimeouts, ConsensusEngine } from "../../../../chains/consortium/consensus/engine.ts";
import { type Chain } from "../../../../chains/consortium/chain.ts";
import { openChain, testGenesis, validatorSigners } from "../helpers.ts";
import { ByzantineValidator } from "./byzantine.ts";
import { chainApp, memoryState } from "./engine-harness.ts";
import { type MessageKind, partialSynchrony, SimNetwork } from "./sim-network.ts";
import { VirtualTime, seededRandom } from "./virtual-time.ts";

export interface SimOptions {
  readonly seed: number;
  readonly stakes: readonly bigint[];
  /** Index of the Byzantine validator, or null for four honest ones. */
  readonly byzantine: number | null;
  readonly gstMs: number;
  /** After GST the run lasts until every honest validator committed this many more blocks... */
  readonly blocksAfterGst: number;
  /** ...or this much virtual time passed since GST (then liveness failed). */
  readonly maxAfterGstMs: number;
}

export interface SimResult {
  /** Per honest validator index: its committed blocks (hash, decided in which round, at what virtual time), index 0 = height 1. */
  readonly committed: Map<number, { hash: Hex; round: number; atMs: number }[]>;
  /** Per honest validator index: its height (blocks committed) at GST. */
  readonly heightAtGst: Map<number, number>;
  /** Virtual ms from GST until every honest validator had committed blocksAfterGst more (the run stops there), or null. */
  readonly liveAfterMs: number | null;
  readonly equivocationsReported: number;
  readonly byzantine: ByzantineValidator["stats"] | null;
  readonly maxRound: number;
  readonly network: SimNetwork["stats"];
}

const EPOCH_MS = 1_800_000_000_000;
export const SIM_TIMEOUTS: ConsensusTimeouts = { proposeMs: 100, prevoteMs: 60, precommitMs: 60, deltaMs: 20 };

export function runSimulation(o: SimOptions): SimResult {
  const rng = seededRandom(o.seed);
  const time = new VirtualTime();
  const clock = time.clock(EPOCH_MS);
  const genesis = testGenesis({ stakes: [...o.stakes], timeMs: EPOCH_MS - 1000 });
  // Each seed draws its own weather: how lossy each link is, how much more the adversarial
  // scheduler likes to lose each kind of message, and how late copies run before GST.
  const links = Array.from({ length: 16 }, () => rng());
  const kinds: Record<MessageKind, number> = { proposal: rng() * 0.5, prevote: rng() * 0.5, precommit: 0.3 + rng() * 0.7, sync: 0.5 + rng() * 0.5, other: 0 };
  const network = new SimNetwork(
    time,
    partialSynchrony({ rng, gstMs: o.gstMs, deltaMs: 20, maxDelayMs: 20 + Math.floor(rng() * 100), dropRate: (from, to, kind) => links[from * 4 + to]! * kinds[kind] }),
  );
  const honest = [0, 1, 2, 3].filter((i) => i !== o.byzantine);
  const chains = new Map<number, Chain>();
  const committed: SimResult["committed"] = new Map();
  const heightAtGst = new Map<number, number>();
  const engines: ConsensusEngine[] = [];
  let equivocationsReported = 0;
  let maxRound = 0;

  let byzantine: ByzantineValidator | null = null;
  if (o.byzantine !== null) {
    byzantine = new ByzantineValidator({
      signer: validatorSigners[o.byzantine]!,
      chain: openChain(genesis),
      transport: network.connect(o.byzantine),
      honest,
      rng,
      clock,
      time,
      resendMs: 150,
    });
  }

  for (const i of honest) {
    const chain = openChain(genesis);
    chains.set(i, chain);
    committed.set(i, []);
    chain.onCommit((b) => {
      committed.get(i)!.push({ hash: b.hash, round: b.commit.round, atMs: time.now() });
      maxRound = Math.max(maxRound, b.commit.round);
      // The adversary moves on only with the slowest honest validator: it keeps working on
      // the laggards while the others wait for it.
      if (byzantine && [...chains.values()].every((c) => c.height >= b.header.height)) byzantine.learnCommitted(b, b.commit);
    });
    const app = chainApp(chain, (h) => {
      const b = chain.block(h);
      return b ? { block: b, commit: b.commit } : undefined;
    });
    engines.push(
      new ConsensusEngine({
        app,
        signer: validatorSigners[i]!,
        transport: network.connect(i),
        clock,
        timers: time,
        signerState: memoryState(),
        blockIntervalMs: 20,
        timeouts: SIM_TIMEOUTS,
        onEquivocation: () => equivocationsReported++,
        onHalt: (err) => {
          throw new Error(`validator ${i} halted: ${(err as Error).message}`);
        },
      }),
    );
  }

  byzantine?.start();
  for (const e of engines) e.start();
  time.runUntil(o.gstMs);
  for (const [i, chain] of chains) heightAtGst.set(i, chain.height);
  const live = () => [...chains].every(([i, chain]) => chain.height >= heightAtGst.get(i)! + o.blocksAfterGst);
  while (!live() && time.now() < o.gstMs + o.maxAfterGstMs) time.advance(50);
  for (const e of engines) e.stop();
  const liveAfterMs = live() ? time.now() - o.gstMs : null;
  return { committed, heightAtGst, liveAfterMs, equivocationsReported, byzantine: byzantine?.stats ?? null, maxRound, network: network.stats };
}

/** The first height at which two honest validators committed different blocks, if any. */
export function findFork(committed: SimResult["committed"]): { height: number; hashes: Map<number, Hex> } | undefined {
  const top = Math.max(...[...committed.values()].map((c) => c.length));
  for (let h = 1; h <= top; h++) {
    const hashes = new Map<number, Hex>();
    for (const [i, c] of committed) if (c.length >= h) hashes.set(i, c[h - 1]!.hash);
    if (new Set(hashes.values()).size > 1) return { height: h, hashes };
  }
  return undefined;
}

