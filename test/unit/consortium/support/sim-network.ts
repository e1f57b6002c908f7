/**
 * A simulated network for consensus runs in virtual time. Every message goes through the
 * wire encoding (as between processes) and each copy, per receiver, is dropped or delayed as
 * the link policy says, so copies reorder freely. A Byzantine sender may also address chosen
 * peers (`sendTo`), which honest validators never do.
 */
import { type ConsensusMessage, decodeMessage, encodeMessage } from "../../../../chains/consortium/consensus/messages.ts";
import { VoteType } from "../../../../proofs/consortium/vote.ts";
import { type Transport } from "../../../../chains/consortium/consensus/transport.ts";
import { type VirtualTime } from "./virtual-time.ts";

/** What a copy is, for a policy that treats kinds differently (an adversary may). */
export type MessageKind = "proposal" | "prevote" | "precommit" | "sync" | "other";

/** A copy's fate: its delay in virtual ms, or "drop". */
export type LinkPolicy = (from: number, to: number, kind: MessageKind, nowMs: number) => number | "drop";

export function kindOf(m: ConsensusMessage): MessageKind {
  if (m.type === "vote") return m.voteType === VoteType.Prevote ? "prevote" : "precommit";
  if (m.type === "proposal") return "proposal";
  if (m.type === "sync-request" || m.type === "sync-block") return "sync";
  return "other";
}

/**
 * Partial synchrony: before `gstMs` each copy is dropped with its link's probability or
 * delayed up to `maxDelayMs`; from GST on nothing is dropped and a copy arrives within
 * `deltaMs`, and a copy still in flight at GST arrives by GST + deltaMs at the latest.
 */
export function partialSynchrony(p: { rng: () => number; gstMs: number; deltaMs: number; maxDelayMs: number; dropRate: (from: number, to: number, kind: MessageKind) => number }): LinkPolicy {
  return (from, to, kind, now) => {
    if (now >= p.gstMs) return Math.floor(p.rng() * p.deltaMs);
    if (p.rng() < p.dropRate(from, to, kind)) return "drop";
    const arrival = Math.min(now + Math.floor(p.rng() * p.maxDelayMs), p.gstMs + Math.floor(p.rng() * p.deltaMs));
    return arrival - now;
  };
}

export class SimNetwork {
  readonly #time: VirtualTime;
  readonly #policy: LinkPolicy;
  readonly #handlers = new Map<number, Set<(m: ConsensusMessage) => void>>();
  readonly stats = { sent: 0, dropped: 0 };

  constructor(time: VirtualTime, policy: LinkPolicy) {
    this.#time = time;
    this.#policy = policy;
  }

  /** The transport of validator `index`. */
  connect(index: number): SimTransport {
    const handlers = new Set<(m: ConsensusMessage) => void>();
    this.#handlers.set(index, handlers);
    const peers = () => [...this.#handlers.keys()].filter((i) => i !== index);
    return {
      broadcast: (msg) => this.send(index, peers(), msg),
      sendTo: (to, msg) => this.send(index, to, msg),
      onMessage: (h) => {
        handlers.add(h);
        return () => handlers.delete(h);
      },
      close: () => handlers.clear(),
    };
  }

  private send(from: number, to: readonly number[], msg: ConsensusMessage): void {
    const wire = encodeMessage(msg);
    const kind = kindOf(msg);
    for (const peer of to) {
      this.stats.sent++;
      const delay = this.#policy(from, peer, kind, this.#time.now());
      if (delay === "drop") {
        this.stats.dropped++;
        continue;
      }
      this.#time.at(delay, () => {
        const decoded = decodeMessage(wire);
        if (!decoded) throw new Error(`undecodable message from ${from}: ${wire.slice(0, 80)}`);
        for (const h of this.#handlers.get(peer) ?? []) h(decoded);
      });
    }
  }
}

export interface SimTransport extends Transport {
  /** Sends to the chosen validators only (a Byzantine sender's tool). */
  sendTo(to: readonly number[], msg: ConsensusMessage): void;
}
