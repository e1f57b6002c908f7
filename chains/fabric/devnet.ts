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

export async function startFabricNode(opts: FabricNetworkOptions): Promise<FabricNode> {
  const network = await FabricNetwork.start(opts);
  let chaincode: ChaincodeServerHandle;
  try {
    chaincode = await startChaincodeServer(CHAINCODE_NAME, [IsthmusContract]);
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
