/**
 * The embedded Fabric network with the Isthmus chaincode as a standalone process:
 *   node --import tsx chains/fabric/serve.ts <dir> [port] [batchTimeoutMs] [--batch-max=N] [--chaincode-process]
 * Prints one JSON line {address, channel, chaincode, identities, ordererCert} when ready;
 * on SIGTERM/SIGINT stops gracefully and prints {cpuMs} (its own CPU time; with
 * --chaincode-process also chaincodeCpuMs). Its stdin is a parent watchdog: when stdin ends
 * (the parent died or closed it), it stops too.
 * --chaincode-process runs the chaincode in a child process of its own (chaincode-serve.ts),
 * as a chaincode container runs beside real peers, instead of inside this one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { CHAINCODE_NAME, startFabricNode, type ChaincodePlacement } from "./devnet.ts";

const args = process.argv.slice(2);
const chaincodeProcess = args.includes("--chaincode-process");
const batchMaxArg = args.find((a) => a.startsWith("--batch-max="))?.slice("--batch-max=".length);
const [dir, port, batch] = args.filter((a) => !a.startsWith("--"));
const batchMax = batchMaxArg === undefined ? undefined : Number(batchMaxArg);
if (!dir || (batchMax !== undefined && !(Number.isSafeInteger(batchMax) && batchMax > 0))) {
  process.stderr.write("usage: serve.ts <dir> [port] [batchTimeoutMs] [--batch-max=N (a positive integer)] [--chaincode-process]\n");
  process.exit(2);
}

/** Starts chaincode-serve.ts; resolves with its address and a stop that returns its CPU ms. */
async function chaincodeChild(): Promise<{ address: string; stop: () => Promise<number> }> {
  // a profiled network (node --cpu-prof, the bench's BENCH_FABRIC_PROFILE) profiles its chaincode too
  const profile = process.execArgv.filter((a) => a.startsWith("--cpu-prof"));
  const child: ChildProcess = spawn(process.execPath, [...profile, "--import", "tsx", fileURLToPath(new URL("./chaincode-serve.ts", import.meta.url))], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error("chaincode-serve.ts exited before it was listening");
  return {
    address: (JSON.parse(first.value) as { address: string }).address,
    stop: async () => {
      child.kill("SIGTERM");
      const last = await lines.next();
      return last.done ? NaN : (JSON.parse(last.value) as { cpuMs: number }).cpuMs;
    },
  };
}

const cc = chaincodeProcess ? await chaincodeChild() : null;
const placement: ChaincodePlacement = cc ? { kind: "service", address: cc.address } : { kind: "in-process" };
const node = await startFabricNode({ dir, port: Number(port ?? 0), batchTimeoutMs: Number(batch ?? 20), batchMaxMessages: batchMax, host: "127.0.0.1" }, placement);
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
  const chaincodeCpuMs = cc ? await cc.stop() : undefined;
  process.stdout.write(JSON.stringify({ cpuMs: Math.round((c.user + c.system) / 1000), chaincodeCpuMs }) + "\n");
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Parent watchdog: EOF on stdin (the parent holds the write end) means the parent is gone.
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.resume();
