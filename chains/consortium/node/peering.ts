/**
 * Peers learnt from the chain. A validator announces its p2p endpoint with a tx (kind 11)
 * signed by its own key, accepted only while it is bonded (staking.ts `announceEndpoint`);
 * every node then reads the announced endpoints of the latest set's members from its
 * committed state and starts gossiping to the ones it does not know yet. So a validator that
 * joins by bonding is reached without anyone editing `peers` or restarting, nobody but the
 * key holder can move a validator's traffic, and every node derives the same list from
 * state that is provable like any other entry.
 *
 * Why a tx in state rather than a signed peer record passed around by peer exchange: the
 * chain already orders, authenticates (signature + nonce, so no replay of an old endpoint)
 * and persists it, a restarted node recovers it by replay, and it needs no new gossip
 * protocol. The cost is one tx per endpoint change.
 *
 * Links learnt from the chain follow it: an endpoint no member of the latest set or of the
 * set signing the next block announces any more (the validator moved, or left and signs no
 * more) is dropped, so a member re-announcing a new host in
 * every block makes the nodes hold one link for it, not one per announcement. Configured
 * peers are never dropped (peering did not add them).
 */
import { type Hex } from "../../../proofs/hex.ts";
import { stakeOf } from "../../../proofs/consortium/validators.ts";
import { TxRejectedError } from "../codes.ts";
import { Signer } from "../crypto.ts";
import { type ChainLogger } from "../log.ts";
import { type GrpcTransport } from "../net/grpc-transport.ts";
import { endpointOf, latestSet, memberEndpoints } from "../staking.ts";
import { signTx } from "../tx.ts";
import { type ValidatorNode } from "../validator.ts";
import { type FollowerNode } from "../follower.ts";

export interface PeeringOptions {
  readonly node: ValidatorNode | FollowerNode;
  readonly transport: GrpcTransport;
  /** This node's own bound p2p endpoint (never dialed). */
  readonly selfEndpoint: string;
  /** The endpoint to announce once bonded (config `announce`); requires a ValidatorNode. */
  readonly announce?: { readonly endpoint: string; readonly privateKey: Hex; readonly submit: (bytes: Uint8Array) => void; readonly nextNonce: () => number };
  readonly intervalMs: number;
  readonly log: ChainLogger;
}

/** An announcement not yet committed is sent again after this many intervals (it may have been dropped). */
const ANNOUNCE_RETRY_INTERVALS = 20;

export class ChainPeering {
  readonly #o: PeeringOptions;
  readonly #timer: NodeJS.Timeout;
  #seenHeight = -1;
  /** Endpoints this peering added to the transport (configured peers are not in it). */
  readonly #learnt = new Set<string>();
  #announcedAt = -Infinity;
  #ticks = 0;

  constructor(o: PeeringOptions) {
    this.#o = o;
    this.#timer = setInterval(() => this.tick(), o.intervalMs);
    this.#timer.unref();
    this.tick();
  }

  /** One pass: dial newly announced members; announce our own endpoint if it is missing or stale. */
  tick(): void {
    this.#ticks++;
    const { chain } = this.#o.node;
    if (chain.height === this.#seenHeight) return;
    this.#seenHeight = chain.height;
    const kv = chain.kv;
    const announced = new Map<string, Hex>();
    // The set signing the next block too: a validator that is leaving still votes until then.
    const signing = chain.validatorSet.validators.flatMap((v) => {
      const endpoint = endpointOf(kv, v.address);
      return endpoint ? [{ address: v.address, endpoint }] : [];
    });
    for (const { address, endpoint } of [...memberEndpoints(kv), ...signing]) {
      if (address === this.#o.node.address || endpoint === this.#o.selfEndpoint || endpoint === this.#o.announce?.endpoint) continue;
      announced.set(endpoint, address);
    }
    for (const endpoint of this.#learnt) {
      if (announced.has(endpoint)) continue;
      this.#learnt.delete(endpoint);
      if (this.#o.transport.removePeer(endpoint)) this.#o.log.info("peer dropped: no member announces it any more", { endpoint, height: chain.height });
    }
    for (const [endpoint, address] of announced) {
      if (this.#learnt.has(endpoint) || !this.#o.transport.addPeer(endpoint)) continue;
      this.#learnt.add(endpoint);
      this.#o.log.info("peer added from the chain", { validator: address, endpoint, height: chain.height });
    }
    const a = this.#o.announce;
    if (!a) return;
    const me = this.#o.node.address;
    if (endpointOf(kv, me) === a.endpoint || stakeOf(latestSet(kv), me) === undefined) return;
    if (this.#ticks - this.#announcedAt < ANNOUNCE_RETRY_INTERVALS) return;
    this.#announcedAt = this.#ticks;
    const tx = signTx(Signer.fromPrivateKey(a.privateKey), { chainId: chain.chainId, nonce: a.nextNonce(), body: { kind: "endpoint", endpoint: a.endpoint } });
    try {
      a.submit(tx.bytes);
      this.#o.log.info("announcing our peer endpoint", { endpoint: a.endpoint, tx: tx.hash, height: chain.height });
    } catch (err) {
      if (!(err instanceof TxRejectedError)) throw err;
      this.#o.log.warn("endpoint announcement refused", { code: err.code, reason: err.reason });
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
