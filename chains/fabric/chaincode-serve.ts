/**
 * The Isthmus chaincode as a service in a process of its own, as a chaincode container runs
 * beside real peers:
 *   node --import tsx chains/fabric/chaincode-serve.ts
 * Prints one JSON line {address, ccid} when listening; on SIGTERM/SIGINT stops and prints
 * {cpuMs} (its own CPU time). Stops too when its stdin ends (parent watchdog).
 */
import { IsthmusContract } from "./chaincode/src/htlc.ts";
import { startChaincodeServer } from "./chaincode-host.ts";
import { CHAINCODE_NAME } from "./devnet.ts";

const server = await startChaincodeServer(CHAINCODE_NAME, [IsthmusContract]);
const cpu0 = process.cpuUsage();
process.stdout.write(JSON.stringify({ address: server.address, ccid: server.ccid }) + "\n");
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  const c = process.cpuUsage(cpu0);
  server.close();
  process.stdout.write(JSON.stringify({ cpuMs: Math.round((c.user + c.system) / 1000) }) + "\n");
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.resume();
