/** Entry point of the chaincode package: fabric-chaincode-node loads `contracts` from here. */
import { IsthmusContract } from "./htlc";

export { IsthmusContract, lockIdOf, TIME_BOUND_SEC } from "./htlc";
export const contracts: (typeof IsthmusContract)[] = [IsthmusContract];
