/**
 * The one way Isthmus builds an ethers JSON-RPC provider. The options below are not
 * cosmetic; each fixes a failure measured on Hardhat 2 (shared/research/evm-toolchain.md):
 * - staticNetwork: no eth_chainId round trip before every request (we check the chain once
 *   ourselves instead).
 * - cacheTimeout -1: ethers otherwise replays identical requests for 250 ms, returning stale
 *   nonces and block numbers.
 * - batchStallTime 0: no 10 ms stall before each request; concurrent calls still batch.
 * - pollingInterval: the default 4 s makes every wait 4 s late on a devnet.
 */
import { FetchRequest, JsonRpcProvider, Network } from "ethers";

export interface CreateProviderOptions {
  /** Default 200. */
  readonly pollingIntervalMs?: number;
  /** Per-request timeout; ethers defaults to 5 minutes, far too long to notice a hung node. Default 30000. */
  readonly rpcTimeoutMs?: number;
}

export function createProvider(rpcUrl: string, chainId: number, opts: CreateProviderOptions = {}): JsonRpcProvider {
  const request = new FetchRequest(rpcUrl);
  request.timeout = opts.rpcTimeoutMs ?? 30_000;
  const network = Network.from(chainId);
  return new JsonRpcProvider(request, network, {
    staticNetwork: network,
    cacheTimeout: -1,
    batchStallTime: 0,
    pollingInterval: opts.pollingIntervalMs ?? 200,
  });
}
