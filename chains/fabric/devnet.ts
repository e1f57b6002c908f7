/**
 * The embedded network with the Isthmus chaincode running as a service beside it: what the
 * devnet, the tests and the bench start.
 */
// htlc.ts, not index.ts: the chaincode sources are CommonJS (for fabric-chaincode-node), and
// an extensionless require between .ts files only resolves under tsx's CommonJS hooks, which
// bin/isthmus.js (tsx/esm/api) does not install.
import { IsthmusContract } from "./chaincode/src/htlc.ts";
import { startChaincodeServer, type ChaincodeServerHandle } from "./chaincode-host.ts";
import { FabricNetwork, type FabricNetworkOptions } from "./network.ts";

export const CHAINCODE_NAME = "isthmus";

export interface FabricNode {
  readonly network: FabricNetwork;
  readonly chaincode: ChaincodeServerHandle;
  close(): Promise<void>;
}

/**
 * Where the chaincode runs: in this process (started here and stopped with the network), or
 * already serving at `address` in a process of its own (chaincode-serve.ts), as beside real peers.
 */
export type ChaincodePlacement = { readonly kind: "in-process" } | { readonly kind: "service"; readonly address: string };

export async function startFabricNode(opts: FabricNetworkOptions, placement: ChaincodePlacement = { kind: "in-process" }): Promise<FabricNode> {
  const network = await FabricNetwork.start(opts);
  let chaincode: ChaincodeServerHandle;
  try {
    chaincode =
      placement.kind === "in-process"
        ? await startChaincodeServer(CHAINCODE_NAME, [IsthmusContract])
        : { address: placement.address, ccid: `${CHAINCODE_NAME}:1.0`, close: () => {} };
    await network.connectChaincode(chaincode.address);
  } catch (err) {
    await network.close();
    throw err;
  }
  return {
    network,
    chaincode,
    close: async () => {
      await network.close();
      chaincode.close();
    },
  };
}
