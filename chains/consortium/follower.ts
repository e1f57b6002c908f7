/**
 * A non-validator full node: it follows the chain by block sync (GetBlocks from its peers,
 * each block's commit verified against the validator set and the block re-executed before
 * it is stored), keeps a mempool, gossips the transactions clients submit to it, and serves
 * the node API. It never signs anything. A node whose key is not in the genesis validator
 * set runs as one (node/run.ts).
 */
import { type Hex } from "../../proofs/hex.ts";
import { type Commit, verifyCommit } from "../../proofs/consortium/commit.ts";
import { type Block } from "./block.ts";
import { Chain } from "./chain.ts";
import { type Clock } from "./clock.ts";
import { TxRejectedError } from "./codes.ts";
import { recoverSigner, Signer } from "./crypto.ts";
import { type Transport } from "./consensus/transport.ts";
import { type Genesis } from "./genesis.ts";
import { type ChainLogger, quietLogger } from "./log.ts";
import { Mempool, type MempoolOptions } from "./mempool.ts";
import { type BlockStore } from "./store.ts";
import { openStoredChain } from "./open-chain.ts";
import { type SignedTx } from "./tx.ts";
import { TxGossip } from "./tx-gossip.ts";

export interface FollowerOptions {
  readonly genesis: Genesis;
  /** Identifies the node (its address); never used to sign consensus messages. */
  readonly privateKey: Hex;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly storePath: string;
  readonly blockIntervalMs: number;
  readonly maxClockSkewMs: number;
  readonly mempool?: MempoolOptions;
  readonly maxBlockTxs?: number;
  readonly stateHistory?: number;
  readonly log?: ChainLogger;
}

export type AdoptResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export class FollowerNode {
  readonly address: Hex;
  readonly chain: Chain;
  readonly mempool: Mempool;
  readonly blockIntervalMs: number;
  readonly maxClockSkewMs: number;
  readonly #transport: Transport;
  readonly #gossip: TxGossip;
  readonly #store: BlockStore;
  readonly #log: ChainLogger;
  #unsubscribe: (() => void) | null = null;

  private constructor(opts: FollowerOptions, store: BlockStore, chain: Chain) {
    this.address = Signer.fromPrivateKey(opts.privateKey).address;
    this.chain = chain;
    this.#store = store;
    this.#transport = opts.transport;
    this.#gossip = new TxGossip(opts.transport);
    this.#log = opts.log ?? quietLogger;
    this.blockIntervalMs = opts.blockIntervalMs;
    this.maxClockSkewMs = opts.maxClockSkewMs;
    this.mempool = new Mempool(chain, opts.clock, opts.mempool);
    // Gossiped as they become pending (a queued tx after its gap), in each sender's nonce order.
    this.mempool.onPending((tx, origin) => {
      if (origin === "client") this.#gossip.add(tx.bytes);
    });
  }

  static open(opts: FollowerOptions): FollowerNode {
    const { store, chain } = openStoredChain(opts);
    return new FollowerNode(opts, store, chain);
  }

  start(): void {
    this.#unsubscribe ??= this.#transport.onMessage((msg) => {
      if (msg.type === "txs") {
        for (const tx of msg.txs) {
          try {
            this.mempool.add(tx, "peer");
          } catch (err) {
            if (!(err instanceof TxRejectedError)) throw err;
          }
        }
      } else if (msg.type === "sync-block" && msg.block.header.height === this.chain.height + 1) {
        this.adoptCommitted(msg.block, msg.commit);
      }
    });
  }

  /** Applies the next committed block if its commit verifies and it re-executes to its header. */
  adoptCommitted(block: Block, commit: Commit): AdoptResult {
    if (block.header.height !== this.chain.height + 1) return { ok: false, reason: `expected height ${this.chain.height + 1}, got ${block.header.height}` };
    const verified = verifyCommit(block.header, commit, this.chain.validatorSetAt(block.header.height), { recover: recoverSigner });
    if (!verified.ok) return { ok: false, reason: `bad commit: ${verified.reason}` };
    const check = this.chain.check(block);
    if (!check.ok) {
      this.#log.error("final block is invalid here", { height: block.header.height, reason: check.reason });
      return { ok: false, reason: `invalid here: ${check.reason}` };
    }
    this.chain.commit(block, commit);
    return { ok: true };
  }

  /** Admits a signed tx (throws TxRejectedError with the reason); it is gossiped to the validators once pending. */
  submitTx(bytes: Uint8Array): SignedTx {
    return this.mempool.add(bytes);
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#gossip.close();
    this.#transport.close();
    this.#store.close();
  }
}
