/**
 * Sends transactions for one key, one at a time.
 *
 * Hardhat 2 under automine rejects nonce gaps and ethers' NonceManager reorders concurrent
 * sends (shared/research/evm-toolchain.md, pitfall 1), so every send goes through a
 * concurrency-1 queue with a locally tracked nonce, re-read from the chain's 'pending'
 * count after any failure that leaves it in doubt. Each send estimates gas explicitly (a
 * revert surfaces before anything is signed), signs locally, broadcasts, and waits for the
 * receipt. Reverts become LedgerError TX_REVERTED carrying the decoded custom error.
 */
import PQueue from "p-queue";
import { isError, keccak256, type Interface, type JsonRpcProvider, type TransactionReceipt, type TransactionRequest } from "ethers";
import { LedgerError } from "../errors.ts";
import type { Hex } from "../ledger.ts";
import { decodeRevert, findRevertData, formatRevert, describeRpcError, type DecodedRevert } from "./revert.ts";

/** LedgerError codes raised by the EVM side. */
export const EvmErrorCode = {
  /** The transaction reverts (at estimation: nothing was sent) or reverted (mined: nonce used, gas paid). */
  TX_REVERTED: "TX_REVERTED",
  /** The node refused the transaction or could not be reached; it is not known to the node. */
  TX_SEND_FAILED: "TX_SEND_FAILED",
  /** Sent, but no receipt in time; it may still be mined. */
  TX_TIMEOUT: "TX_TIMEOUT",
  /** A read failed (node down, timeout, malformed answer). */
  RPC_FAILED: "RPC_FAILED",
  /** Our nonce was consumed by a transaction that is not ours (someone else used the key). */
  TX_REPLACED: "TX_REPLACED",
  /** waitFinal gave up. */
  TIMEOUT: "TIMEOUT",
  /** The RPC URL serves another chain id than configured. */
  WRONG_CHAIN: "WRONG_CHAIN",
  /** No code at the configured HTLC address. */
  NO_CONTRACT: "NO_CONTRACT",
  /** The adapter was closed. */
  CLOSED: "CLOSED",
} as const;

export interface TxCall {
  /** What the transaction does, for error messages: "claim", "approve KRWT", "deploy HTLC". */
  readonly label: string;
  /** null deploys a contract. */
  readonly to: Hex | null;
  readonly data: Hex;
  readonly value?: bigint;
}

/** Sends one transaction; valid only inside the `sequence` callback that received it. */
export type SendFn = (call: TxCall) => Promise<TransactionReceipt>;

/**
 * What sending needs from a key holder: its address, known up front, and a signer of
 * populated transactions. An ethers Wallet is one; any ethers Signer (hardware, KMS,
 * a dApp's own) becomes one with its address (see sdk/ledgers.ts).
 */
export interface TransactionSigner {
  readonly address: string;
  signTransaction(tx: TransactionRequest): Promise<string>;
}

export interface TxSenderOptions {
  /** Ledger name for errors. */
  readonly chain: string;
  readonly chainId: number;
  readonly provider: JsonRpcProvider;
  /** Signs fully populated transactions; need not be connected to the provider. */
  readonly wallet: TransactionSigner;
  /** Error fragments used to decode reverts (see buildErrorInterface). */
  readonly errors: Interface;
  readonly pollingIntervalMs: number;
  /** How long to wait for a receipt after broadcast. */
  readonly receiptTimeoutMs: number;
  /** Added on top of the gas estimate, in percent. Default 20. */
  readonly gasMarginPercent?: number;
  /**
   * A transaction not mined this many blocks after its broadcast is signed again at the same
   * nonce with fees bumped by `feeBumpPercent` and rebroadcast (0 disables). Default 3.
   */
  readonly rebroadcastAfterBlocks?: number;
  /** Fee increase per rebroadcast, in percent; nodes need at least 10 to replace. Default 25. */
  readonly feeBumpPercent?: number;
}

type Fees = { type: 2; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { type: 0; gasPrice: bigint };

/** Raise every fee field by `percent`, rounding up, at least by 1 wei. */
export function bumpFees(fees: Fees, percent: number): Fees {
  const up = (v: bigint) => v + (v * BigInt(percent) + 99n) / 100n + (percent > 0 && v === 0n ? 1n : 0n);
  return fees.type === 2 ? { type: 2, maxFeePerGas: up(fees.maxFeePerGas), maxPriorityFeePerGas: up(fees.maxPriorityFeePerGas) } : { type: 0, gasPrice: up(fees.gasPrice) };
}

const NONCE_RETRIES = 2;

export class TxSender {
  readonly address: Hex;
  private readonly queue = new PQueue({ concurrency: 1 });
  /** undefined = unknown: read the 'pending' count before the next send. */
  private nextNonce: number | undefined;
  /** Transactions signed again at the same nonce with a higher fee. */
  rebroadcasts = 0;

  constructor(private readonly opts: TxSenderOptions) {
    this.address = opts.wallet.address.toLowerCase() as Hex;
  }

  /** Queues one transaction and resolves with its successful receipt. */
  send(call: TxCall): Promise<TransactionReceipt> {
    return this.sequence((send) => send(call));
  }

  /** Runs `fn` with the queue to itself, for steps that must not interleave (approve, then lock). */
  sequence<T>(fn: (send: SendFn) => Promise<T>): Promise<T> {
    return this.queue.add(() => fn((call) => this.sendNow(call)));
  }

  /** Resolves when every queued transaction has settled. */
  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }

  private async sendNow(call: TxCall): Promise<TransactionReceipt> {
    const { provider, wallet, chainId } = this.opts;
    const base = { to: call.to, data: call.data, value: call.value ?? 0n };

    let estimate: bigint;
    try {
      estimate = await provider.estimateGas({ ...base, from: this.address });
    } catch (err) {
      if (isError(err, "CALL_EXCEPTION")) throw this.reverted(call, decodeRevert(this.opts.errors, findRevertData(err)), { stage: "estimate" }, err);
      throw this.failed(EvmErrorCode.TX_SEND_FAILED, call, `gas estimation failed: ${describeRpcError(err)}`, err);
    }
    const gasLimit = estimate + (estimate * BigInt(this.opts.gasMarginPercent ?? 20)) / 100n;
    const fees = await this.fees(call);

    for (let attempt = 0; ; attempt++) {
      const nonce = this.nextNonce ?? (await this.pendingNonce(call));
      const signed = await wallet.signTransaction({ ...base, ...fees, chainId, nonce, gasLimit });
      const hash = keccak256(signed) as Hex;

      let sendError: unknown;
      try {
        await provider.send("eth_sendRawTransaction", [signed]);
      } catch (err) {
        sendError = err;
      }
      if (sendError !== undefined) {
        // Hardhat's automine answers a reverted transaction with an error although it mined
        // it; a timed-out request may have reached the pool. Either way the nonce is spent.
        const known = await provider.getTransaction(hash).catch(() => null);
        if (!known) {
          this.nextNonce = undefined;
          if (isNonceError(sendError) && attempt < NONCE_RETRIES) continue;
          throw this.failed(EvmErrorCode.TX_SEND_FAILED, call, `broadcast refused: ${describeRpcError(sendError)}`, sendError);
        }
      }
      this.nextNonce = nonce + 1;

      const receipt = await this.waitReceipt(call, hash, { base, nonce, gasLimit, fees });
      if (receipt.status === 1) return receipt;
      const data = findRevertData(sendError) ?? (await this.replayRevert(call, receipt.blockNumber));
      throw this.reverted(call, decodeRevert(this.opts.errors, data), { stage: "mined", txId: hash, height: receipt.blockNumber });
    }
  }

  private async pendingNonce(call: TxCall): Promise<number> {
    try {
      return await this.opts.provider.getTransactionCount(this.address, "pending");
    } catch (err) {
      throw this.failed(EvmErrorCode.RPC_FAILED, call, `reading the account nonce failed: ${describeRpcError(err)}`, err);
    }
  }

  private async fees(call: TxCall): Promise<Fees> {
    let fee;
    try {
      fee = await this.opts.provider.getFeeData();
    } catch (err) {
      throw this.failed(EvmErrorCode.RPC_FAILED, call, `reading fee data failed: ${describeRpcError(err)}`, err);
    }
    if (fee.maxFeePerGas != null && fee.maxPriorityFeePerGas != null) {
      return { type: 2, maxFeePerGas: fee.maxFeePerGas, maxPriorityFeePerGas: fee.maxPriorityFeePerGas };
    }
    if (fee.gasPrice != null) return { type: 0, gasPrice: fee.gasPrice };
    throw this.failed(EvmErrorCode.RPC_FAILED, call, "node reports no gas price");
  }

  /**
   * Poll for a receipt of any transaction we signed at this nonce. After
   * `rebroadcastAfterBlocks` blocks without one, sign the same call at the same nonce with
   * bumped fees and broadcast it. A refusal of that rebroadcast ("nonce too low", "already
   * known", "replacement underpriced") is answered by looking for our transactions on chain,
   * never by a blind retry: if one is mined its receipt is returned; if the nonce was used by
   * a transaction that is not ours, the send fails (TX_REPLACED) and the nonce is re-read.
   */
  private async waitReceipt(call: TxCall, first: Hex, tx: { base: { to: Hex | null; data: Hex; value: bigint }; nonce: number; gasLimit: bigint; fees: Fees }): Promise<TransactionReceipt> {
    const { provider, wallet, chainId } = this.opts;
    const deadline = Date.now() + this.opts.receiptTimeoutMs;
    const after = this.opts.rebroadcastAfterBlocks ?? 3;
    const hashes: Hex[] = [first];
    let fees = tx.fees;
    let sentAt = await provider.getBlockNumber().catch(() => undefined);
    for (;;) {
      const mined = await this.findMined(hashes);
      if (mined) return mined;
      if (Date.now() >= deadline) {
        // It may still mine or be dropped; let the next send re-read the nonce either way.
        this.nextNonce = undefined;
        throw this.failed(EvmErrorCode.TX_TIMEOUT, call, `no receipt for ${hashes.join(", ")} within ${this.opts.receiptTimeoutMs} ms`, undefined, { txId: first, txIds: hashes });
      }
      const height = after > 0 ? await provider.getBlockNumber().catch(() => undefined) : undefined;
      if (height !== undefined && sentAt === undefined) sentAt = height;
      if (height !== undefined && sentAt !== undefined && height - sentAt >= after) {
        fees = bumpFees(fees, this.opts.feeBumpPercent ?? 25);
        const signed = await wallet.signTransaction({ ...tx.base, ...fees, chainId, nonce: tx.nonce, gasLimit: tx.gasLimit });
        const hash = keccak256(signed) as Hex;
        hashes.push(hash);
        sentAt = height;
        this.rebroadcasts++;
        try {
          await provider.send("eth_sendRawTransaction", [signed]);
        } catch (err) {
          if (!isReplacementRefusal(err)) throw this.failed(EvmErrorCode.TX_SEND_FAILED, call, `rebroadcast refused: ${describeRpcError(err)}`, err, { txIds: hashes });
          const minedNow = await this.findMined(hashes);
          if (minedNow) return minedNow;
          if (isNonceTooLow(err)) {
            // The nonce is spent on chain by none of ours: someone else used this key.
            this.nextNonce = undefined;
            throw this.failed(EvmErrorCode.TX_REPLACED, call, `nonce ${tx.nonce} was used by a transaction that is not ours`, err, { txIds: hashes });
          }
          // "already known" / "underpriced": ours is still pending; keep waiting on all of them.
        }
      }
      await sleep(this.opts.pollingIntervalMs);
    }
  }

  private async findMined(hashes: readonly Hex[]): Promise<TransactionReceipt | null> {
    for (const h of hashes) {
      const r = await this.opts.provider.getTransactionReceipt(h).catch(() => null);
      if (r) return r;
    }
    return null;
  }

  /**
   * Receipts carry no revert data, so re-run the call: first on the parent block's state
   * (what the transaction saw, minus earlier transactions in its block), then on the block's
   * own state (which includes whatever beat it, e.g. a competing claim).
   */
  private async replayRevert(call: TxCall, height: number): Promise<Hex | undefined> {
    for (const blockTag of [height - 1, height]) {
      try {
        await this.opts.provider.call({ to: call.to, data: call.data, value: call.value ?? 0n, from: this.address, blockTag });
      } catch (err) {
        const data = findRevertData(err);
        if (data) return data;
      }
    }
    return undefined;
  }

  private reverted(call: TxCall, revert: DecodedRevert, details: Record<string, unknown>, cause?: unknown): LedgerError {
    const when = details.stage === "estimate" ? "would revert" : "reverted";
    return new LedgerError(this.opts.chain, EvmErrorCode.TX_REVERTED, `${call.label} ${when}: ${formatRevert(revert)}`, { op: call.label, revert, ...details }, { cause });
  }

  private failed(code: string, call: TxCall, message: string, cause?: unknown, details: Record<string, unknown> = {}): LedgerError {
    return new LedgerError(this.opts.chain, code, `${call.label}: ${message}`, { op: call.label, ...details }, { cause });
  }
}

/** The node's ways of saying "a transaction at this nonce exists already". */
export function isReplacementRefusal(err: unknown): boolean {
  return isNonceTooLow(err) || /already known|known transaction|replacement (transaction )?underpriced|already imported/i.test(describeRpcError(err));
}

function isNonceTooLow(err: unknown): boolean {
  return isError(err, "NONCE_EXPIRED") || /nonce too low|nonce has already been used/i.test(describeRpcError(err));
}

function isNonceError(err: unknown): boolean {
  return isError(err, "NONCE_EXPIRED") || /nonce/i.test(describeRpcError(err));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
