/**
 * The browser-safe part of the SDK: no Node built-ins anywhere below this file (a test
 * bundles it with esbuild for platform "browser" and checks). Bring ledger adapters that
 * work in the page, or use quote/createSwap here and lock/claim elsewhere.
 */
export { createClient, quote, createSwap, lock, watch, claim, refund, recover, swap, viewOf } from "./swap.ts";
export type {
  SwapClient,
  CreateClientParams,
  QuoteParams,
  Quote,
  CreateSwapParams,
  SwapView,
  LockOutcome,
  VerifiedCounterLock,
  WatchOptions,
  ClaimOutcome,
  RefundOutcome,
  RecoverOutcome,
  SwapParams,
  SwapResult,
} from "./swap.ts";
export { MemorySwapStore, WebStorageSwapStore, FINAL_PHASES } from "./store.ts";
export type { SwapStore, SwapRecord, SwapPhase, SwapTerms, AssetRef, UserLockRef, CounterLockRef, WebStorageLike } from "./store.ts";
export { generateSecret, hashlockOf } from "./secret.ts";
export { checkMargin, claimWindowSec, minGapSec, type MarginCheck } from "./margin.ts";
export { RelayerClient } from "./relayer-client.ts";
export {
  IsthmusError,
  InvalidInputError,
  LedgerError,
  VerificationError,
  CounterLockMismatchError,
  InsufficientMarginError,
  ExpiredError,
  NotRefundableYetError,
  RelayerGaveUpError,
  SwapStateError,
  RelayerApiError,
  RelayerUnreachableError,
  type CounterLockField,
} from "./errors.ts";
export type { LedgerAdapter, Hex, HtlcLock, VerifiedLock, Verification, LedgerTiming } from "../chains/ledger.ts";
