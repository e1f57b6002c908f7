/**
 * Opening the three ledgers with the dApp's own signer (Node only: the adapters speak gRPC
 * and JSON-RPC from Node). The SDK never asks for more than the ledger needs to sign.
 */
import type { Identity as GatewayIdentity, Signer as GatewaySigner } from "@hyperledger/fabric-gateway";
import type { Signer as EthersSigner } from "ethers";
import { ConsortiumLedger } from "../chains/consortium/adapter.ts";
import { EvmLedger } from "../chains/evm/adapter.ts";
import { FabricLedger } from "../chains/fabric/adapter.ts";
import type { AssetInfo, LedgerAdapter } from "../chains/ledger.ts";

export interface EvmLedgerParams {
  /** Ledger name as the relayer's routes spell it; default "evm". */
  readonly name?: string;
  readonly rpcUrl: string;
  readonly chainId: number;
  /** The HTLC contract's address. */
  readonly htlc: string;
  /** ETH has id 0x000…0; a token's id is its address. */
  readonly assets: readonly AssetInfo[];
  /** Blocks on top before a block counts as final. */
  readonly confirmations: number;
  readonly blockTimeSec: number;
  readonly clockSkewSec: number;
  /** The dApp's ethers Signer (Wallet, hardware, browser-extension bridge, KMS): only signTransaction and getAddress are used. */
  readonly signer: EthersSigner;
}

export async function openEvmLedger(p: EvmLedgerParams): Promise<LedgerAdapter> {
  const address = await p.signer.getAddress();
  return new EvmLedger({
    name: p.name ?? "evm",
    rpcUrl: p.rpcUrl,
    chainId: p.chainId,
    htlcAddress: p.htlc,
    assets: p.assets,
    confirmations: p.confirmations,
    blockTimeSec: p.blockTimeSec,
    clockSkewSec: p.clockSkewSec,
    transactionSigner: { address, signTransaction: (tx) => p.signer.signTransaction(tx) },
  });
}

export interface FabricLedgerParams {
  /** Default "fabric". */
  readonly name?: string;
  /** The peer's gateway endpoint, host:port. */
  readonly gatewayAddress: string;
  readonly channel: string;
  readonly chaincode: string;
  /** The dApp's identity and signer, exactly as @hyperledger/fabric-gateway's connect() takes them. */
  readonly identity: GatewayIdentity;
  readonly signer: GatewaySigner;
  /** The orderer's certificate: block signatures are checked against it. */
  readonly ordererCertPem: string;
  readonly assets?: readonly AssetInfo[];
  readonly blockTimeSec?: number;
  readonly clockSkewSec?: number;
}

export async function openFabricLedger(p: FabricLedgerParams): Promise<LedgerAdapter> {
  return new FabricLedger({
    name: p.name ?? "fabric",
    gatewayAddress: p.gatewayAddress,
    channel: p.channel,
    chaincode: p.chaincode,
    mspId: p.identity.mspId,
    certPem: Buffer.from(p.identity.credentials).toString("utf8"),
    signer: { curve: "p256", signDigest: (digest) => p.signer(digest) },
    ordererCertPem: p.ordererCertPem,
    ...(p.assets ? { assets: p.assets } : {}),
    ...(p.blockTimeSec !== undefined ? { blockTimeSec: p.blockTimeSec } : {}),
    ...(p.clockSkewSec !== undefined ? { clockSkewSec: p.clockSkewSec } : {}),
  });
}

export interface ConsortiumLedgerParams {
  /** Default "consortium". */
  readonly name?: string;
  /** A node's gRPC endpoint, host:port. */
  readonly endpoint: string;
  readonly chainId: number;
  /** The trusted validator set (from genesis): every commit read is verified against it. */
  readonly validators: readonly { readonly address: string; readonly stake: bigint }[];
  readonly blockTimeSec: number;
  readonly clockSkewSec: number;
  /** The dApp's consortium-chain key, 32-byte 0x hex. */
  readonly privateKey: string;
}

/** A LedgerAdapter, plus the consortium's verified subscriptions (`subscribeBlocks`, `subscribeEvents`). */
export async function openConsortiumLedger(p: ConsortiumLedgerParams): Promise<ConsortiumLedger> {
  return ConsortiumLedger.connect({
    name: p.name ?? "consortium",
    endpoint: p.endpoint,
    chainId: p.chainId,
    validators: p.validators,
    blockTimeSec: p.blockTimeSec,
    clockSkewSec: p.clockSkewSec,
    privateKey: p.privateKey,
  });
}
