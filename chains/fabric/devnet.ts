/**
 * The embedded network with the Isthmus chaincode running as a service beside it: what the
 * devnet, the tests and the bench start.
 */
import { contracts } from "./chaincode/src/index.ts";
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
    chaincode = await startChaincodeServer(CHAINCODE_NAME, contracts);
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
