/**
 * `npm run bench` (second part): endorse + order + commit throughput and latency of the
 * embedded Fabric network (run in its own process by chains/fabric/serve.ts) through the
 * real fabric-gateway client, with concurrent clients.
 * Each transaction is a chaincode Mint to a fresh address (two endorsements, ordering,
 * validation incl. signature/policy/MVCC checks, commit to SQLite); fresh addresses keep
 * transactions free of MVCC conflicts, so every one must commit VALID.
 *   BENCH_FABRIC_TXS       transactions (default 2000)
 *   BENCH_FABRIC_CLIENTS   concurrent clients, each with its own gateway connection (default 8)
 *   BENCH_FABRIC_INFLIGHT  submissions in flight per client (default 16)
 *   BENCH_FABRIC_PROFILE   a directory: the network process writes a V8 CPU profile there (node --cpu-prof)
 *   BENCH_FABRIC_CHAINCODE "process" (default): the chaincode in a process of its own, as a
 *                          chaincode container beside real peers; "in-process": inside the network's
 */
import { common } from "@hyperledger/fabric-protos";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { CHAINCODE_NAME } from "../../chains/fabric/devnet.ts";
import { connectGateway } from "../../chains/fabric/gateway-client.ts";
import { readIdentityDir } from "../../chains/fabric/identity.ts";

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1);
  return { n: s.length, meanMs: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(1), p50Ms: q(0.5), p95Ms: q(0.95), maxMs: q(1) };
}

interface Served {
  address: string;
  channel: string;
  chaincode: string;
  identities: string;
}

/** The network in its own process (serve.ts), so the bench clients and the network use separate cores. */
async function serveInChild(dir: string, chaincodeProcess: boolean): Promise<{ info: Served; stop: () => Promise<{ cpuMs: number; chaincodeCpuMs?: number }> }> {
  const profile = process.env.BENCH_FABRIC_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${resolve(process.env.BENCH_FABRIC_PROFILE)}`] : [];
  const child = spawn(process.execPath, [...profile, "--import", "tsx", resolve("chains/fabric/serve.ts"), dir, "0", "20", ...(chaincodeProcess ? ["--chaincode-process"] : [])], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const it = lines[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) throw new Error("serve.ts exited before it was ready");
  return {
    info: JSON.parse(first.value) as Served,
    stop: async () => {
      child.kill("SIGTERM");
      const last = await it.next();
      return last.done ? { cpuMs: NaN } : (JSON.parse(last.value) as { cpuMs: number; chaincodeCpuMs?: number });
    },
  };
}

async function main() {
  const total = Number(process.env.BENCH_FABRIC_TXS ?? 2000);
  const clients = Number(process.env.BENCH_FABRIC_CLIENTS ?? 8);
  const inflight = Number(process.env.BENCH_FABRIC_INFLIGHT ?? 16);
  const dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-bench-"));
  const chaincodeProcess = (process.env.BENCH_FABRIC_CHAINCODE ?? "process") === "process";
  const served = await serveInChild(dir, chaincodeProcess);
  const issuer = readIdentityDir(join(served.info.identities, "Org1MSP", "users", "issuer"), "Org1MSP");
  const deadlines = { evaluateMs: 30_000, endorseMs: 60_000, submitMs: 30_000, commitStatusMs: 120_000 };
  const conns = Array.from({ length: clients }, () => connectGateway(served.info.address, issuer, deadlines));
  const net0 = conns[0]!.gateway.getNetwork(served.info.channel);
  const height = async () => common.BlockchainInfo.deserializeBinary(await net0.getContract("qscc").evaluateTransaction("GetChainInfo", served.info.channel)).getHeight();
  const contracts = conns.map((c) => c.gateway.getNetwork(served.info.channel).getContract(CHAINCODE_NAME));
  const h0 = await height();
  const latencies: number[] = [];
  const endorseMs: number[] = [];
  let next = 0;
  let invalid = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const worker = async (ci: number) => {
    for (;;) {
      if (next >= total) return;
      next++;
      const s = performance.now();
      const tx = await contracts[ci]!.newProposal("Mint", { arguments: ["KRW", "0x" + randomBytes(20).toString("hex"), "1"] }).endorse();
      endorseMs.push(performance.now() - s);
      const st = await (await tx.submit()).getStatus();
      if (!st.successful) invalid++;
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: clients * inflight }, (_, i) => worker(i % clients)));
  const sec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const blocks = (await height()) - h0;
  for (const c of conns) c.close();
  const { cpuMs: networkCpuMs, chaincodeCpuMs } = await served.stop();
  rmSync(dir, { recursive: true, force: true });
  const networkCpuMsPerTx = networkCpuMs / total;
  console.log(
    JSON.stringify(
      {
        bench: "fabric endorse+order+commit (embedded network in its own process, real fabric-gateway clients)",
        transactions: total,
        invalid,
        clients,
        inFlightPerClient: inflight,
        endorsersPerTx: 2,
        seconds: +sec.toFixed(2),
        tps: +(total / sec).toFixed(1),
        blocks,
        txPerBlock: +(total / blocks).toFixed(1),
        // CPU per transaction bounds throughput independently of machine load: the network
        // (gateway, 2 endorsers, chaincode, orderer, committer) is one Node process
        networkCpuMsPerTx: +networkCpuMsPerTx.toFixed(2),
        networkTpsBoundOneCore: +(1000 / networkCpuMsPerTx).toFixed(0),
        chaincode: chaincodeProcess ? "own process" : "in the network's process",
        ...(chaincodeCpuMs !== undefined ? { chaincodeCpuMsPerTx: +(chaincodeCpuMs / total).toFixed(2) } : {}),
        clientCpuMsPerTx: +((cpu.user + cpu.system) / 1000 / total).toFixed(2),
        cores: availableParallelism(),
        loadAverage1m: +loadavg()[0]!.toFixed(1),
        latency: stats(latencies),
        endorse: stats(endorseMs),
      },
      null,
      2,
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
