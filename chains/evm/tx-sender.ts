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
import { isError, keccak256, type Interface, type JsonRpcProvider, type TransactionReceipt, type Wallet } from "ethers";
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

export interface TxSenderOptions {
  /** Ledger name for errors. */
  readonly chain: string;
  readonly chainId: number;
  readonly provider: JsonRpcProvider;
  /** Signs locally; need not be connected to the provider. */
  readonly wallet: Wallet;
  /** Error fragments used to decode reverts (see buildErrorInterface). */
  readonly errors: Interface;
  readonly pollingIntervalMs: number;
  /** How long to wait for a receipt after broadcast. */
  readonly receiptTimeoutMs: number;
  /** Added on top of the gas estimate, in percent. Default 20. */
  readonly gasMarginPercent?: number;
}

const NONCE_RETRIES = 2;

export class TxSender {
  readonly address: Hex;
  private readonly queue = new PQueue({ concurrency: 1 });
  /** undefined = unknown: read the 'pending' count before the next send. */
  private nextNonce: number | undefined;

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

      const receipt = await this.waitReceipt(call, hash);
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

  private async fees(call: TxCall): Promise<{ type: 2; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { type: 0; gasPrice: bigint }> {
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

  private async waitReceipt(call: TxCall, hash: Hex): Promise<TransactionReceipt> {
    const deadline = Date.now() + this.opts.receiptTimeoutMs;
    for (;;) {
      const receipt = await this.opts.provider.getTransactionReceipt(hash).catch(() => null);
      if (receipt) return receipt;
      if (Date.now() >= deadline) {
        // It may still mine or be dropped; let the next send re-read the nonce either way.
        this.nextNonce = undefined;
        throw this.failed(EvmErrorCode.TX_TIMEOUT, call, `no receipt for ${hash} within ${this.opts.receiptTimeoutMs} ms`, undefined, { txId: hash });
      }
      await sleep(this.opts.pollingIntervalMs);
    }
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

function isNonceError(err: unknown): boolean {
  return isError(err, "NONCE_EXPIRED") || /nonce/i.test(describeRpcError(err));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
