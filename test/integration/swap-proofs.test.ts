/**
 * Every swap's evidence is auditable: after swaps whose source is each ledger (consortium,
 * EVM, Fabric), `GET /swaps/{id}/proofs` serves the bundle of the user's lock the relayer
 * verified before its counter-lock and the bundle of the counter-lock's claim it verified
 * before claiming; each re-verifies offline with the exported verifier against an anchor
 * the auditor takes from the ledger itself, and with `isthmus proof verify`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { JsonRpcProvider } from "ethers";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { verifyProofBundle } from "../../proofs/bundle.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { runSwap } from "../../sdk/run-swap.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";

interface StoredProof {
  seq: number;
  role: string;
  chain: string;
  lockId: string;
  kind: string;
  bundle: Record<string, unknown> & { kind: string; lockId: string; headers?: { number: string | number }[] };
}

const KIND: Record<string, string> = { consortium: "consortium-lock", evm: "evm-htlc-lock", fabric: "fabric-lock" };

describe("devnet: each swap's proof bundles are served by the API and re-verify offline", function () {
  this.timeout(240_000);
  let dir: string;
  let devnet: Devnet;
  let user: Map<string, LedgerAdapter>;
  let api: RelayerClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-swap-proofs-"));
    devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 1000, evmConfirmations: 1, pollMs: 100, log: silentLogger });
    const file = readDevnetFile(devnet.file);
    user = new Map(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet.file)] as const)));
    api = new RelayerClient(file.api, 10_000, file.apiKey);
  });

  after(async () => {
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The auditor's own trust anchor for a bundle, taken from the ledger, not from the relayer. */
  async function anchorFor(chain: string, bundle: StoredProof["bundle"]): Promise<unknown> {
    if (chain === "consortium") {
      const c = devnet.consortium;
      return { kind: "consortium-validators", chainId: c.chainId, validators: c.validators.map((v) => ({ address: v.address, stake: v.stake.toString() })) };
    }
    if (chain === "evm") {
      const last = bundle.headers!.at(-1)!;
      const height = Number(last.number);
      const rpc = new JsonRpcProvider(devnet.evm.url, undefined, { staticNetwork: true });
      try {
        const block = await rpc.getBlock(height);
        return { kind: "evm-header", chainId: 31337, height, hash: block!.hash };
      } finally {
        rpc.destroy();
      }
    }
    return { kind: "fabric-channel", configBlock: `0x${Buffer.from(devnet.fabric.network.getBlock(0)!.serializeBinary()).toString("hex")}` };
  }

  const run = promisify(execFile);

  for (const [from, to, amount] of [
    ["consortium:KRW", "evm:KRWT", "3"],
    ["evm:KRWT", "fabric:KRW", "4"],
    ["fabric:KRW", "consortium:KRW", "5"],
  ] as const) {
    it(`${from} -> ${to}: the user lock's and the counter-lock claim's bundles verify offline and with the CLI`, async () => {
      const [fromChain, fromAsset] = from.split(":") as [string, string];
      const [toChain, toAsset] = to.split(":") as [string, string];
      const result = await runSwap({ relayer: api, source: user.get(fromChain)!, dest: user.get(toChain)!, fromAsset, toAsset, amount, secretDir: join(dir, "secrets"), pollMs: 100 });
      const swap = await api.get<{ state: string; userLock: { lockId: string }; counterLock: { lockId: string } }>(`/swaps/${result.swapId}`);
      assert.equal(swap.state, "completed");
      const { proofs } = await api.get<{ proofs: StoredProof[] }>(`/swaps/${result.swapId}/proofs`);
      assert.deepEqual(
        proofs.map((p) => [p.role, p.chain, p.kind, p.lockId]),
        [
          ["user-lock", fromChain, KIND[fromChain], swap.userLock.lockId],
          ["counter-lock-claimed", toChain, KIND[toChain], swap.counterLock.lockId],
        ],
      );
      for (const p of proofs) {
        const anchor = await anchorFor(p.chain, p.bundle);
        const v = verifyProofBundle(p.bundle, anchor);
        assert.ok(v.ok, v.ok ? "" : `${p.role}: ${v.reason}`);
        assert.equal(v.anchored, true);
        assert.equal(v.lock?.status, p.role === "user-lock" ? "locked" : "claimed");
        assert.equal(v.lockId, p.lockId);
        const bundleFile = join(dir, `${result.swapId}-${p.seq}.json`);
        const anchorFile = join(dir, `${result.swapId}-${p.seq}-anchor.json`);
        writeFileSync(bundleFile, JSON.stringify(p.bundle));
        writeFileSync(anchorFile, JSON.stringify(anchor));
        const out = await run(process.execPath, ["bin/isthmus.js", "proof", "verify", bundleFile, "--trust", anchorFile]);
        assert.match(out.stdout, new RegExp(`lock ${p.lockId} is ${v.lock!.status} on ${p.chain}`));
      }
    });
  }
});
