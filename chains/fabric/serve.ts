/**
 * The embedded Fabric network with the Isthmus chaincode as a standalone process:
 *   node --import tsx chains/fabric/serve.ts <dir> [port] [batchTimeoutMs]
 * Prints one JSON line {address, channel, chaincode, identities, ordererCert} when ready;
 * on SIGTERM/SIGINT stops gracefully and prints {cpuMs} (its own CPU time). Its stdin is a
 * parent watchdog: when stdin ends (the parent died or closed it), it stops too.
 */
import { join } from "node:path";
import { CHAINCODE_NAME, startFabricNode } from "./devnet.ts";

const [dir, port, batch] = process.argv.slice(2);
if (!dir) {
  process.stderr.write("usage: serve.ts <dir> [port] [batchTimeoutMs]\n");
  process.exit(2);
}
const node = await startFabricNode({ dir, port: Number(port ?? 0), batchTimeoutMs: Number(batch ?? 20), host: "127.0.0.1" });
const cpu0 = process.cpuUsage();
process.stdout.write(
  JSON.stringify({
    address: node.network.address,
    channel: node.network.channel,
    chaincode: CHAINCODE_NAME,
    identities: join(dir, "crypto"),
    ordererCert: join(dir, "crypto", "OrdererMSP", "users", "orderer0", "cert.pem"),
  }) + "\n",
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  const c = process.cpuUsage(cpu0);
  await node.close();
  process.stdout.write(JSON.stringify({ cpuMs: Math.round((c.user + c.system) / 1000) }) + "\n");
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Parent watchdog: EOF on stdin (the parent holds the write end) means the parent is gone.
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.resume();
