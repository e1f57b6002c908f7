/**
 * One validator: its chain copy (SQLite-backed), mempool and consensus engine, wired to a
 * transport. Transactions submitted here are admitted locally, then gossiped to the others.
 */
import { type Hex } from "../../proofs/hex.ts";
import { Chain } from "./chain.ts";
import { type Clock } from "./clock.ts";
import { TxRejectedError } from "./codes.ts";
import { Signer } from "./crypto.ts";
import { type ConsensusApp, type ConsensusTimeouts, ConsensusEngine, DEFAULT_MAX_CLOCK_SKEW_MS } from "./consensus/engine.ts";
import { type Transport } from "./consensus/transport.ts";
import { CompactProposalTransport, fromRoundProposer } from "./consensus/compact.ts";
import { type Genesis } from "./genesis.ts";
import { type ChainLogger, quietLogger } from "./log.ts";
import { Mempool, type MempoolOptions } from "./mempool.ts";
import { type BlockStore } from "./store.ts";
import { openStoredChain } from "./open-chain.ts";
import { type SignedTx, signTx } from "./tx.ts";
import { type DuplicateVoteEvidence } from "../../proofs/consortium/evidence.ts";
import { slashingRecord } from "./staking.ts";
import { TxGossip } from "./tx-gossip.ts";

export interface ValidatorOptions {
  readonly genesis: Genesis;
  readonly privateKey: Hex;
  readonly transport: Transport;
  readonly clock: Clock;
  /** SQLite file, or ":memory:". */
  readonly storePath: string;
  readonly blockIntervalMs: number;
  readonly maxClockSkewMs?: number;
  readonly timeouts?: ConsensusTimeouts;
  readonly mempool?: MempoolOptions;
  readonly maxBlockTxs?: number;
  readonly stateHistory?: number;
  readonly log?: ChainLogger;
}

export class ValidatorNode {
  readonly address: Hex;
  readonly chain: Chain;
  readonly mempool: Mempool;
  readonly engine: ConsensusEngine;
  readonly blockIntervalMs: number;
  readonly maxClockSkewMs: number;
  readonly #transport: Transport;
  readonly #gossip: TxGossip;
  readonly #store: BlockStore;
  readonly #log: ChainLogger;
  #unsubscribe: (() => void) | null = null;
  #halted: unknown = undefined;

  private constructor(opts: ValidatorOptions, store: BlockStore, chain: Chain) {
    const signer = Signer.fromPrivateKey(opts.privateKey);
    this.address = signer.address;
    this.#store = store;
    // Proposals travel as tx hashes, rebuilt from this mempool (consensus/compact.ts).
    this.#transport = new CompactProposalTransport(opts.transport, (hash) => this.mempool.get(hash)?.bytes, fromRoundProposer(chain), opts.log, (tx) => this.#gossip.fresh(tx));
    this.#gossip = new TxGossip(this.#transport);
    this.#log = opts.log ?? quietLogger;
    this.chain = chain;
    this.blockIntervalMs = opts.blockIntervalMs;
    this.maxClockSkewMs = opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
    this.mempool = new Mempool(chain, opts.clock, opts.mempool);
    // Client txs are gossiped as they become pending (a queued one later, after its gap), so
    // peers receive each sender's txs in nonce order.
    this.mempool.onPending((tx, origin) => {
      if (origin === "client") this.#gossip.add(tx.bytes);
      this.engine.txsArrived();
    });
    const app: ConsensusApp = {
      chainId: chain.chainId,
      validatorSetAt: (height) => chain.validatorSetAt(height),
      head: () => chain.head,
      propose: (timeMs, proposer) => {
        const { block, skipped } = chain.propose(this.mempool.reap(chain.maxBlockTxs), timeMs, proposer);
        for (const s of skipped) this.#log.debug("tx skipped by proposer", { code: s.error.code, reason: s.error.reason });
        return block;
      },
      check: (block) => chain.check(block),
      commit: (block, commit) => void chain.commit(block, commit),
      pendingTxs: () => this.mempool.size,
      committed: (height) => {
        const b = chain.block(height);
        return b ? { block: b, commit: b.commit } : undefined;
      },
    };
    this.engine = new ConsensusEngine({
      app,
      signer,
      transport: this.#transport,
      clock: opts.clock,
      signerState: { load: () => store.loadSignerState(), save: (s, blocks) => store.saveSignerState(s as { height: number }, blocks), loadBlock: (hash) => store.loadSignerBlock(hash) },
      blockIntervalMs: opts.blockIntervalMs,
      maxClockSkewMs: this.maxClockSkewMs,
      ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
      log: this.#log,
      onEquivocation: (evidence, offender) => this.submitEvidence(signer, evidence, offender),
      onHalt: (err) => {
        this.#halted = err;
      },
    });
  }

  /** Opens the store, replays it, and prepares (but does not start) consensus. */
  static open(opts: ValidatorOptions): ValidatorNode {
    const { store, chain } = openStoredChain(opts);
    return new ValidatorNode(opts, store, chain);
  }

  start(): void {
    this.#unsubscribe ??= this.#transport.onMessage((msg) => {
      if (msg.type !== "txs") return;
      for (const tx of msg.txs) {
        try {
          this.mempool.add(tx, "peer");
        } catch (err) {
          if (!(err instanceof TxRejectedError)) throw err;
        }
      }
    });
    this.engine.start();
  }

  /** The error that halted consensus on this validator, if any. */
  get halted(): unknown {
    return this.#halted;
  }

  /** Admits a signed tx (throws TxRejectedError with the reason); it is gossiped once pending. */
  submitTx(bytes: Uint8Array): SignedTx {
    return this.mempool.add(bytes);
  }

  /**
   * Validators turn the equivocations they observe into evidence transactions from their own
   * account (anyone may submit evidence; the first one committed slashes, later ones are refused).
   */
  private submitEvidence(signer: Signer, evidence: DuplicateVoteEvidence, offender: Hex): void {
    if (slashingRecord(this.chain.kv, offender)) return;
    const tx = signTx(signer, { chainId: this.chain.chainId, nonce: this.mempool.nextNonce(signer.address), body: { kind: "evidence", evidence } });
    try {
      this.submitTx(tx.bytes);
      this.#log.warn("submitted equivocation evidence", { validator: this.address, offender, height: evidence.height, round: evidence.round, tx: tx.hash });
    } catch (err) {
      if (!(err instanceof TxRejectedError)) throw err;
      this.#log.info("equivocation evidence not submitted", { offender, code: err.code, reason: err.reason });
    }
  }

  stop(): void {
    this.engine.stop();
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#gossip.close();
    this.#transport.close();
    this.#store.close();
  }
}
