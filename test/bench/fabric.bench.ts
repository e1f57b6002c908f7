/**
 * `npm run bench` (second part): endorse + order + commit throughput and latency of the
 * embedded Fabric network (run in its own process by chains/fabric/serve.ts) through the
 * real fabric-gateway client, with concurrent clients.
 * Each transaction is a chaincode Mint to a fresh address (two endorsements, ordering,
 * validation incl. signature/policy/MVCC checks, commit to SQLite); fresh addresses keep
 * transactions free of MVCC conflicts, so every one must commit VALID.
 *   BENCH_FABRIC_TXS       transactions (default 4000)
 *   BENCH_FABRIC_CLIENTS   concurrent clients, each with its own gateway connection (default 8)
 *   BENCH_FABRIC_INFLIGHT  submissions in flight per client (default 16)
 *   BENCH_FABRIC_COMMIT    how a client learns the outcome: "events" (default) — submit, then
 *                          read the transaction's validation code from the process's one
 *                          filtered block stream (DeliverFiltered), as high-throughput Fabric
 *                          clients do;
 *                          "status" — one CommitStatus call per transaction (submitTransaction)
 *   BENCH_FABRIC_BATCH     the orderer's batch timeout in ms (default 20); BENCH_FABRIC_BATCH_MAX
 *                          its max messages per block (default 500)
 *   BENCH_FABRIC_PROFILE   a directory: the network and chaincode processes write V8 CPU profiles there (node --cpu-prof)
 *   BENCH_FABRIC_CHAINCODE "process" (default): the chaincode in a process of its own, as a
 *                          chaincode container beside real peers; "in-process": inside the network's
 * CPU time per transaction is printed for each process (network, chaincode, this client
 * process): it bounds throughput whatever else the machine is doing, unlike TPS and latency.
 */
import { common, peer } from "@hyperledger/fabric-protos";
import type { Network } from "@hyperledger/fabric-gateway";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { CHAINCODE_NAME } from "../../chains/fabric/devnet.ts";
import { connectGateway } from "../../chains/fabric/gateway-client.ts";
import { readIdentityDir } from "../../chains/fabric/identity.ts";
import { fabricFloor, measureGrpcFloor } from "./grpc-floor.ts";

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1);
  return { n: s.length, meanMs: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(1), p50Ms: q(0.5), p95Ms: q(0.95), p99Ms: q(0.99), maxMs: q(1) };
}

interface Served {
  address: string;
  channel: string;
  chaincode: string;
  identities: string;
}

/** The network in its own process (serve.ts), so the bench clients and the network use separate cores. */
async function serveInChild(
  dir: string,
  chaincodeProcess: boolean,
  batchTimeoutMs: number,
  batchMax: number,
): Promise<{ info: Served; stop: () => Promise<{ cpuMs: number; chaincodeCpuMs?: number }> }> {
  const profile = process.env.BENCH_FABRIC_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${resolve(process.env.BENCH_FABRIC_PROFILE)}`] : [];
  const args = [...profile, "--import", "tsx", resolve("chains/fabric/serve.ts"), dir, "0", String(batchTimeoutMs), `--batch-max=${batchMax}`];
  const child = spawn(process.execPath, [...args, ...(chaincodeProcess ? ["--chaincode-process"] : [])], { stdio: ["pipe", "pipe", "inherit"] });
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

/**
 * One client's commit listener: its own filtered block stream from `startBlock`, resolving
 * each awaited transaction id with its validation code.
 */
function commitListener(network: Network, startBlock: number) {
  const waiting = new Map<string, (code: number) => void>();
  const seen = new Map<string, number>(); // committed before anyone waited (a fast block)
  let stream: Awaited<ReturnType<Network["getFilteredBlockEvents"]>> | null = null;
  const ready = network.getFilteredBlockEvents({ startBlock: BigInt(startBlock) }).then((s) => {
    stream = s;
    void (async () => {
      try {
        for await (const block of s) {
          for (const t of block.getFilteredTransactionsList()) {
            const w = waiting.get(t.getTxid());
            if (w) {
              waiting.delete(t.getTxid());
              w(t.getTxValidationCode());
            } else seen.set(t.getTxid(), t.getTxValidationCode());
          }
        }
      } catch {
        // closed at the end of the run
      }
    })();
  });
  return {
    ready,
    committed: (txId: string): Promise<number> => {
      const code = seen.get(txId);
      if (code !== undefined) {
        seen.delete(txId);
        return Promise.resolve(code);
      }
      return new Promise((res) => waiting.set(txId, res));
    },
    close: () => stream?.close(),
  };
}

async function main() {
  const total = Number(process.env.BENCH_FABRIC_TXS ?? 4000);
  const clients = Number(process.env.BENCH_FABRIC_CLIENTS ?? 8);
  const inflight = Number(process.env.BENCH_FABRIC_INFLIGHT ?? 16);
  const commitMode = process.env.BENCH_FABRIC_COMMIT ?? "events";
  if (commitMode !== "events" && commitMode !== "status") throw new Error(`BENCH_FABRIC_COMMIT must be "events" or "status", got "${commitMode}"`);
  const batchTimeoutMs = Number(process.env.BENCH_FABRIC_BATCH ?? 20);
  const batchMax = Number(process.env.BENCH_FABRIC_BATCH_MAX ?? 500);
  const dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-bench-"));
  const chaincodeProcess = (process.env.BENCH_FABRIC_CHAINCODE ?? "process") === "process";
  const served = await serveInChild(dir, chaincodeProcess, batchTimeoutMs, batchMax);
  const issuer = readIdentityDir(join(served.info.identities, "Org1MSP", "users", "issuer"), "Org1MSP");
  const deadlines = { evaluateMs: 30_000, endorseMs: 60_000, submitMs: 30_000, commitStatusMs: 120_000 };
  const conns = Array.from({ length: clients }, () => connectGateway(served.info.address, issuer, deadlines));
  const networks = conns.map((c) => c.gateway.getNetwork(served.info.channel));
  const height = async () => common.BlockchainInfo.deserializeBinary(await networks[0]!.getContract("qscc").evaluateTransaction("GetChainInfo", served.info.channel)).getHeight();
  const contracts = networks.map((n) => n.getContract(CHAINCODE_NAME));
  const h0 = await height();
  // One commit listener for this client process (as an application with a pool of gateway
  // connections has), on the first connection's filtered block stream.
  const listener = commitMode === "events" ? commitListener(networks[0]!, h0) : null;
  await listener?.ready;
  // fresh recipients (no MVCC conflicts): a random prefix per run and a counter
  const prefix = "0x" + randomBytes(12).toString("hex");
  const latencies: number[] = [];
  const endorseMs: number[] = [];
  let next = 0;
  let invalid = 0;
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const worker = async (ci: number) => {
    for (;;) {
      if (next >= total) return;
      const n = next++;
      const s = performance.now();
      const to = prefix + n.toString(16).padStart(16, "0");
      const tx = await contracts[ci]!.newProposal("Mint", { arguments: ["KRW", to, "1"] }).endorse();
      endorseMs.push(performance.now() - s);
      let code: number;
      if (listener) {
        const committed = listener.committed(tx.getTransactionId());
        await tx.submit();
        code = await committed;
      } else {
        code = (await (await tx.submit()).getStatus()).code;
      }
      if (code !== peer.TxValidationCode.VALID) invalid++;
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: clients * inflight }, (_, i) => worker(i % clients)));
  const sec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const load1 = loadavg()[0]!;
  const blocks = (await height()) - h0;
  listener?.close();
  for (const c of conns) c.close();
  const { cpuMs: networkCpuMs, chaincodeCpuMs } = await served.stop();
  rmSync(dir, { recursive: true, force: true });
  const perTx = (ms: number) => +(ms / total).toFixed(2);
  const clientCpuMs = (cpu.user + cpu.system) / 1000;
  const allCpuMs = networkCpuMs + (chaincodeCpuMs ?? 0) + clientCpuMs;
  // measured after the run, so it does not compete with it for the cores
  const floor = await measureGrpcFloor();
  console.log(
    JSON.stringify(
      {
        bench: "fabric endorse+order+commit (embedded network in its own process, real fabric-gateway clients)",
        settings: {
          transactions: total,
          clients,
          inFlightPerClient: inflight,
          commit: commitMode === "events" ? "submit, then the tx's code from one filtered block stream" : "submit + CommitStatus per tx",
          batchTimeoutMs,
          batchMaxMessages: batchMax,
          chaincode: chaincodeProcess ? "own process" : "in the network's process",
          endorsersPerTx: 2,
        },
        invalid,
        seconds: +sec.toFixed(2),
        tps: +(total / sec).toFixed(1),
        latency: stats(latencies),
        endorse: stats(endorseMs),
        blocks,
        txPerBlock: +(total / blocks).toFixed(1),
        // CPU per transaction bounds throughput whatever the machine's load: the network
        // (gateway, both endorsers, orderer, committer), the chaincode and the clients
        cpuMsPerTx: {
          network: perTx(networkCpuMs),
          ...(chaincodeCpuMs !== undefined ? { chaincode: perTx(chaincodeCpuMs) } : {}),
          client: perTx(clientCpuMs),
          all: perTx(allCpuMs),
        },
        // what an otherwise idle machine could do if CPU were the only limit
        tpsBoundIdleMachine: +((availableParallelism() * 1000 * total) / allCpuMs).toFixed(0),
        // the least any implementation pays here for the protocol's gRPC calls, stream
        // messages and ECDSA alone (grpc-js echo and OpenSSL, measured now): see grpc-floor.ts
        floor: { measured: floor, cpuMsPerTx: fabricFloor(floor, availableParallelism()) },
        cores: availableParallelism(),
        loadAverage1m: { start: +load0.toFixed(1), end: +load1.toFixed(1) },
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
