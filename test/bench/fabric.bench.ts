/**
 * `npm run bench` (second part): endorse + order + commit throughput and latency of the
 * embedded Fabric network through the real fabric-gateway client, with concurrent clients.
 * Each transaction is a chaincode Mint to a fresh address (two endorsements, ordering,
 * validation incl. signature/policy/MVCC checks, commit to SQLite); fresh addresses keep
 * transactions free of MVCC conflicts, so every one must commit VALID.
 *   BENCH_FABRIC_TXS       transactions (default 2000)
 *   BENCH_FABRIC_CLIENTS   concurrent clients, each with its own gateway connection (default 8)
 *   BENCH_FABRIC_INFLIGHT  submissions in flight per client (default 16)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CHAINCODE_NAME, startFabricNode } from "../../chains/fabric/devnet.ts";
import { connectGateway } from "../../chains/fabric/gateway-client.ts";

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1);
  return { n: s.length, meanMs: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(1), p50Ms: q(0.5), p95Ms: q(0.95), maxMs: q(1) };
}

async function main() {
  const total = Number(process.env.BENCH_FABRIC_TXS ?? 2000);
  const clients = Number(process.env.BENCH_FABRIC_CLIENTS ?? 8);
  const inflight = Number(process.env.BENCH_FABRIC_INFLIGHT ?? 16);
  const dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-bench-"));
  const node = await startFabricNode({ dir, batchTimeoutMs: 20, batchMaxMessages: 500 });
  const issuer = node.network.identity("Org1MSP", "issuer");
  const conns = Array.from({ length: clients }, () => connectGateway(node.network.address, issuer));
  const contracts = conns.map((c) => c.gateway.getNetwork(node.network.channel).getContract(CHAINCODE_NAME));
  const h0 = node.network.height;
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
  const cpuMsPerTx = (cpu.user + cpu.system) / 1000 / total;
  const blocks = node.network.height - h0;
  for (const c of conns) c.close();
  await node.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    JSON.stringify(
      {
        bench: "fabric endorse+order+commit (embedded network, real fabric-gateway client)",
        transactions: total,
        invalid,
        clients,
        inFlightPerClient: inflight,
        endorsersPerTx: 2,
        seconds: +sec.toFixed(2),
        tps: +(total / sec).toFixed(1),
        blocks,
        txPerBlock: +(total / blocks).toFixed(1),
        // client, gateway, endorsers, chaincode, orderer and committer share this one process:
        // CPU per transaction bounds single-process throughput independently of machine load
        cpuMsPerTx: +cpuMsPerTx.toFixed(2),
        tpsBoundOneCore: +(1000 / cpuMsPerTx).toFixed(0),
        loadAverage1m: +(await import("node:os")).loadavg()[0]!.toFixed(1),
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
