/**
 * Isthmus SDK for Node: everything in sdk/browser.ts, plus the file store and opening the
 * three ledgers with the dApp's own signer (ethers Signer, Fabric identity + signer,
 * consortium key). See sdk/README.md.
 */
export * from "./browser.ts";
export { FileSwapStore } from "./file-store.ts";
export { openEvmLedger, openFabricLedger, openConsortiumLedger, type EvmLedgerParams, type FabricLedgerParams, type ConsortiumLedgerParams } from "./ledgers.ts";
export { readDevnet, defaultDevnetFile, DevnetFileError, type DevnetInfo } from "./devnet.ts";
export { runSwap, formatUnits, type SwapFlowParams, type SwapFlowResult } from "./run-swap.ts";
