/**
 * Every script in examples/ against one in-process devnet, plus the SDK's recover path: a
 * dApp process killed between lock and claim, restarted (as `isthmus recover`) with the same store.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readDevnet } from "../../sdk/devnet.ts";
import { FileSwapStore } from "../../sdk/file-store.ts";
import type { LedgerAdapter } from "../../chains/ledger.ts";
import type { SwapResult } from "../../sdk/swap.ts";
import { startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { silentLogger } from "../../relayer/log.ts";
import { main as consortiumToEvm } from "../../examples/consortium-krw-to-evm-krwt.ts";
import { main as evmToConsortium } from "../../examples/evm-krwt-to-consortium-krw.ts";
import { main as fabricToConsortium } from "../../examples/fabric-krw-to-consortium-krw.ts";
import { main as consortiumToFabric } from "../../examples/consortium-krw-to-fabric-krw.ts";
import { main as fabricToEvm } from "../../examples/fabric-krw-to-evm-krwt.ts";
import { main as evmToFabric } from "../../examples/evm-krwt-to-fabric-krw.ts";
import { main as refundWhenSilent } from "../../examples/refund-when-relayer-silent.ts";
import { main as recoverExample } from "../../examples/recover.ts";
import { createClient, createSwap } from "../../sdk/swap.ts";

describe("examples/ against the in-process devnet", function () {
  this.timeout(180_000);
  let dir: string;
  let devnet: Devnet;
  let user: Map<string, LedgerAdapter>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-examples-"));
    devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 500, evmConfirmations: 1, pollMs: 100, log: silentLogger });
    user = new Map((await readDevnet(devnet.file).openLedgers()).map((l) => [l.name, l]));
  });

  after(async () => {
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const routes: [string, (o: { devnetFile: string; storeDir: string }) => Promise<SwapResult>, string, string, bigint][] = [
    ["consortium-krw-to-evm-krwt", consortiumToEvm, "evm", "KRWT", 1250n],
    ["evm-krwt-to-consortium-krw", evmToConsortium, "consortium", "KRW", 800n],
    ["fabric-krw-to-consortium-krw", fabricToConsortium, "consortium", "KRW", 500n],
    ["consortium-krw-to-fabric-krw", consortiumToFabric, "fabric", "KRW", 600n],
    ["fabric-krw-to-evm-krwt", fabricToEvm, "evm", "KRWT", 700n],
    ["evm-krwt-to-fabric-krw", evmToFabric, "fabric", "KRW", 900n],
  ];
  for (const [name, main, destChain, destAsset, expectOut] of routes) {
    it(`examples/${name}.ts swaps and the user receives exactly the quoted amount`, async () => {
      const dest = user.get(destChain)!;
      const before = await dest.balance(destAsset);
      const storeDir = join(dir, "store-" + name);
      const result = await main({ devnetFile: devnet.file, storeDir });
      assert.equal(result.swap.phase, "claimed");
      assert.equal(result.counterLock.amount, expectOut);
      assert.equal((await dest.balance(destAsset)) - before, expectOut);
      // The store keeps the preimage, readable by the owner only.
      const file = join(storeDir, `${result.swap.swapId}.json`);
      assert.equal((await import("node:fs")).statSync(file).mode & 0o777, 0o600);
      assert.match(JSON.parse(readFileSync(file, "utf8")).preimage, /^0x[0-9a-f]{64}$/);
      assert.equal("preimage" in result.swap, false, "results never carry the preimage");
    });
  }

  it("examples/refund-when-relayer-silent.ts gives up on the silent relayer and refunds after the timelock", async () => {
    const source = user.get("consortium")!;
    const before = await source.balance("KRW");
    const out = await refundWhenSilent({
      devnetFile: devnet.file,
      storeDir: join(dir, "store-silent"),
      watchTimeoutMs: 3_000,
      waitForChainTime: async (ledger, time) => {
        await devnet.advanceTime(time - (await ledger.head()).finalizedTime + 2);
        while ((await ledger.head()).finalizedTime < time) await new Promise((r) => setTimeout(r, 200));
      },
    });
    assert.match(out.gaveUp, /no verifiable counter-lock/);
    assert.equal(out.refund.kind, "refunded");
    assert.equal(await source.balance("KRW"), before, "the 3 KRW came back");
  });

  it("examples/recover.ts finishes the store's open swaps: one created but never locked is dropped", async () => {
    const storeDir = join(dir, "store-recover-example");
    const client = createClient({ relayerUrl: readDevnet(devnet.file).relayerUrl, apiKey: devnet.apiKey, ledgers: [...user.values()], store: new FileSwapStore(storeDir) });
    const created = await createSwap(client, { from: "consortium:KRW", to: "evm:KRWT", amount: "1" });
    const outcomes = await recoverExample({ devnetFile: devnet.file, storeDir });
    assert.deepEqual(outcomes.map((o) => [o.swapId, o.kind]), [[created.swapId, "abandoned"]]);
    assert.equal((await new FileSwapStore(storeDir).get(created.swapId))?.phase, "abandoned");
  });

  it("a dApp killed between lock and claim, restarted as `isthmus recover` on the same store, finishes the swap", async () => {
    // The CLI keeps its store next to the devnet file.
    const storeDir = join(dir, "secrets");
    const dest = user.get("consortium")!;
    const before = await dest.balance("KRW");
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/sdk-dapp-lock-then-claim.ts", devnet.file, storeDir], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const swapId = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        const m = /LOCKED (\w+)/.exec(out);
        if (m) {
          child.kill("SIGKILL");
          resolve(m[1]!);
        }
      });
      child.on("exit", (code) => reject(new Error(`dApp exited (${code}) before locking: ${stderr}`)));
    });
    const stored = await new FileSwapStore(storeDir).get(swapId);
    assert.equal(stored?.phase, "locked", "killed after the lock, before any claim");

    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, ["bin/isthmus.js", "recover", "--devnet", devnet.file, "--timeout", "90"], { timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
    assert.equal(run.code, 0, run.stderr);
    const outcomes = JSON.parse(run.stdout) as { swapId: string; kind: string }[];
    assert.deepEqual(outcomes.map((o) => [o.swapId, o.kind]), [[swapId, "claimed"]]);
    assert.equal((await new FileSwapStore(storeDir).get(swapId))?.phase, "claimed");
    assert.equal((await dest.balance("KRW")) - before, 400n);
  });
});
