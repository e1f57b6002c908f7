/**
 * Devnet deployment: the HTLC and the KRWT token, plus initial KRWT balances.
 */
import { Interface, Wallet, type InterfaceAbi } from "ethers";
import { InvalidInputError, LedgerError } from "../errors.ts";
import type { Hex } from "../ledger.ts";
import { loadArtifact } from "./artifacts.ts";
import { createProvider } from "./provider.ts";
import { buildErrorInterface } from "./revert.ts";
import { EvmErrorCode, TxSender } from "./tx-sender.ts";

export interface DeployEvmContractsParams {
  readonly rpcUrl: string;
  readonly chainId: number;
  /** Deploys both contracts and becomes the KRWT owner (the only minter). */
  readonly deployerKey: string;
  /** KRWT to mint, in base units (2 decimals: 100 KRWT = 10000n). */
  readonly mints?: readonly { readonly to: string; readonly amount: bigint }[];
  /** Name used in error messages. Default "evm". */
  readonly chain?: string;
  /** Default `<repo>/artifacts`. */
  readonly artifactsDir?: string;
}

export interface EvmDeployment {
  readonly chainId: number;
  readonly deployer: Hex;
  readonly htlc: Hex;
  readonly krwt: Hex;
  /** Block holding the HTLC deployment: no HTLC event can be older, so scans start here. */
  readonly htlcHeight: number;
}

/** Deploys HTLC and KRWT, mints KRWT, and returns the addresses (lower-case). */
export async function deployEvmContracts(params: DeployEvmContractsParams): Promise<EvmDeployment> {
  const chain = params.chain ?? "evm";
  const artifactOpts = params.artifactsDir ? { artifactsDir: params.artifactsDir } : {};
  const htlcArt = loadArtifact("HTLC", artifactOpts);
  const krwtArt = loadArtifact("KRWT", artifactOpts);
  for (const m of params.mints ?? []) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(m.to)) throw new InvalidInputError("mints.to", `not an address: ${m.to}`);
    if (m.amount <= 0n) throw new InvalidInputError("mints.amount", `must be positive, got ${m.amount}`);
  }

  const provider = createProvider(params.rpcUrl, params.chainId);
  try {
    const answered = Number(await provider.send("eth_chainId", []));
    if (answered !== params.chainId) {
      throw new LedgerError(chain, EvmErrorCode.WRONG_CHAIN, `node at the RPC URL serves chain ${answered}, expected ${params.chainId}`, { expected: params.chainId, answered });
    }
    let wallet: Wallet;
    try {
      wallet = new Wallet(params.deployerKey);
    } catch {
      throw new InvalidInputError("deployerKey", "not a valid secp256k1 private key (32-byte 0x hex)"); // never echo the key
    }
    const sender = new TxSender({
      chain,
      chainId: params.chainId,
      provider,
      wallet,
      errors: buildErrorInterface(htlcArt.abi, krwtArt.abi),
      pollingIntervalMs: 100,
      receiptTimeoutMs: 60_000,
    });
    const deployer = sender.address;
    const krwtIface = new Interface(krwtArt.abi);

    const deploy = async (label: string, abi: InterfaceAbi, bytecode: Hex, args: readonly unknown[]) => {
      const ctorArgs = new Interface(abi).encodeDeploy(args).slice(2);
      const receipt = await sender.send({ label, to: null, data: `${bytecode}${ctorArgs}` as Hex });
      if (!receipt.contractAddress) throw new LedgerError(chain, EvmErrorCode.RPC_FAILED, `${label}: receipt has no contract address`, { txId: receipt.hash });
      return { address: receipt.contractAddress.toLowerCase() as Hex, height: receipt.blockNumber };
    };
    const htlc = await deploy("deploy HTLC", htlcArt.abi, htlcArt.bytecode, []);
    const krwt = await deploy("deploy KRWT", krwtArt.abi, krwtArt.bytecode, [deployer]);
    for (const m of params.mints ?? []) {
      await sender.send({ label: `mint KRWT to ${m.to}`, to: krwt.address, data: krwtIface.encodeFunctionData("mint", [m.to, m.amount]) as Hex });
    }
    return { chainId: params.chainId, deployer, htlc: htlc.address, krwt: krwt.address, htlcHeight: htlc.height };
  } finally {
    provider.destroy();
  }
}
