/**
 * The signer seam end to end: a separate signer process (standing in for an HSM-backed
 * signing service) holds the relayer's keys on all three chains; the daemon, started with
 * `isthmus relayer start` from a config that names no key, completes a swap on every route
 * by sending it digests. The operator CLI (`relayer status`, `swaps list|show`) is exercised
 * against the same daemon.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { runSwap } from "../../sdk/run-swap.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { DEVNET_KEYS, startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TOKEN = "signer-test-token-1234";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/isthmus.js", ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

/** Start the signer process; resolves with its URL once it listens. */
function startSigner(keysFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/signer-process.ts", keysFile], { env: { ...process.env, SIGNER_TOKEN: TOKEN }, stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once("exit", (code) => reject(new Error(`signer process exited (${code})`)));
  });
}

describe("external signer: the daemon completes swaps on every route without holding a private key", function () {
  this.timeout(600_000);
  let dir: string;
  let devnet: Devnet;
  let signer: { child: ChildProcess; url: string };
  let daemon: ChildProcess;
  let daemonErr = "";
  let user: Map<string, LedgerAdapter>;
  let api: RelayerClient;
  let relayerOn: Map<string, Hex>;
  let configText: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-extsigner-"));
    devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 1000, evmConfirmations: 1, pollMs: 100, log: silentLogger, startRelayer: false });
    const doc = parseYaml(readFileSync(devnet.configFile, "utf8")) as Record<string, any>;
    const relayerFabricDir = doc.chains.fabric.identityDir as string;

    // The signer process gets the keys; the daemon's config and identity folder get none.
    const keysFile = join(dir, "signer-keys.json");
    writeFileSync(keysFile, JSON.stringify({ "chain-relayer": { secp256k1: DEVNET_KEYS.relayer.privateKey }, "fabric-relayer": { p256Pem: readFileSync(join(relayerFabricDir, "key.pem"), "utf8") } }), { mode: 0o600 });
    signer = await startSigner(keysFile);
    const certOnly = join(dir, "relayer-fabric-identity");
    mkdirSync(certOnly);
    copyFileSync(join(relayerFabricDir, "cert.pem"), join(certOnly, "cert.pem"));

    const remote = (keyId: string) => ({ url: signer.url, keyId, tokenEnv: "ISTHMUS_SIGNER_TOKEN" });
    doc.chains.consortium.key = { signer: remote("chain-relayer"), address: DEVNET_KEYS.relayer.address };
    doc.chains.evm.key = { signer: remote("chain-relayer") };
    doc.chains.fabric.identityDir = certOnly;
    doc.chains.fabric.signer = remote("fabric-relayer");
    doc.store = join(dir, "external-signer-relayer.db");
    doc.api.port = await freePort();
    configText = toYaml(doc);
    const configFile = join(dir, "relayer-external-signer.yaml");
    writeFileSync(configFile, configText);

    daemon = spawn(process.execPath, ["bin/isthmus.js", "relayer", "start", "--config", configFile], {
      env: { ...process.env, ISTHMUS_SIGNER_TOKEN: TOKEN, ISTHMUS_LOG_LEVEL: "error", ISTHMUS_PARENT_WATCHDOG: "1" },
      stdio: ["pipe", "ignore", "pipe"],
    });
    daemon.stderr!.on("data", (d) => (daemonErr = (daemonErr + d).slice(-4000)));
    const file = readDevnetFile(devnet.file);
    api = new RelayerClient(`http://127.0.0.1:${doc.api.port}`, 10_000, file.apiKey);
    for (let i = 0; ; i++) {
      if (daemon.exitCode !== null) throw new Error(`daemon exited at start: ${daemonErr}`);
      if (await api.get("/healthz").then(() => true, () => false)) break;
      if (i > 300) throw new Error(`daemon did not answer: ${daemonErr}`);
      await sleep(200);
    }
    user = new Map(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet.file)] as const)));
    const status = await api.get<{ chains: { name: string; relayer: Hex }[] }>("/status");
    relayerOn = new Map(status.chains.map((l) => [l.name, l.relayer]));
  });

  after(async () => {
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    if (daemon && daemon.exitCode === null) {
      daemon.kill("SIGTERM");
      await new Promise((r) => daemon.once("exit", r));
    }
    signer?.child.kill("SIGTERM");
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the daemon's config holds no key material and its addresses are the signer's", async () => {
    assert.ok(!configText.includes(DEVNET_KEYS.relayer.privateKey.slice(2)), "no secp256k1 key in the daemon config");
    assert.ok(!configText.includes("PRIVATE KEY"), "no PEM key in the daemon config");
    assert.equal(relayerOn.get("consortium"), DEVNET_KEYS.relayer.address.toLowerCase());
    assert.equal(relayerOn.get("evm"), DEVNET_KEYS.relayer.address.toLowerCase());
    assert.equal(relayerOn.get("fabric"), readDevnetFile(devnet.file).relayerOn!.fabric);
  });

  const routes = [
    ["consortium:KRW", "evm:KRWT", "10", 1000n],
    ["evm:KRWT", "consortium:KRW", "2.5", 250n],
    ["consortium:ISTH", "evm:ETH", "1000", 10n ** 18n],
    ["evm:ETH", "consortium:ISTH", "0.002", 2n * 10n ** 18n],
    ["fabric:KRW", "consortium:KRW", "3", 300n],
    ["consortium:KRW", "fabric:KRW", "4", 400n],
    ["fabric:KRW", "evm:KRWT", "5", 500n],
    ["evm:KRWT", "fabric:KRW", "6", 600n],
  ] as const;
  const done: string[] = [];
  for (const [from, to, amount, expectOut] of routes) {
    it(`completes ${from} -> ${to}, every relayer transaction signed by the signer process`, async () => {
      const [fromChain, fromAsset] = from.split(":") as [string, string];
      const [toChain, toAsset] = to.split(":") as [string, string];
      const src = user.get(fromChain)!;
      const dst = user.get(toChain)!;
      const relayerSrc = relayerOn.get(fromChain)!;
      const paidBefore = await src.balance(fromAsset, relayerSrc);
      const gotBefore = await dst.balance(toAsset);
      const statsBefore = await signerStats();
      const result = await runSwap({ relayer: api, source: src, dest: dst, fromAsset, toAsset, amount, secretDir: join(dir, "secrets"), pollMs: 100 });
      assert.ok(result.relayerClaim, `the relayer claimed the user's lock (${daemonErr})`);
      assert.equal((await api.get<{ state: string }>(`/swaps/${result.swapId}`)).state, "completed");
      const gained = (await dst.balance(toAsset)) - gotBefore;
      if (toAsset === "ETH") assert.ok(gained > expectOut - 10n ** 16n && gained <= expectOut, `user gained ${gained} wei`);
      else assert.equal(gained, expectOut);
      assert.ok((await src.balance(fromAsset, relayerSrc)) > paidBefore, "the relayer was paid on the source");
      // The relayer's counter-lock (destination) and its claim (source) went through the signer.
      const stats = await signerStats();
      const keyOf = (chain: string) => (chain === "fabric" ? "fabric-relayer" : "chain-relayer");
      for (const chain of new Set([fromChain, toChain])) {
        const k = keyOf(chain);
        assert.ok((stats[k] ?? 0) > (statsBefore[k] ?? 0), `the signer signed for ${chain}`);
      }
      done.push(result.swapId);
    });
  }

  it("CLI: relayer status, swaps list --state/--route and swaps show (with history) against the daemon", async () => {
    const url = api.baseUrl;
    const status = await cli(["relayer", "status", "--api", url]);
    assert.equal(status.code, 0, status.stderr);
    const st = JSON.parse(status.stdout) as { chains: { name: string; ok: boolean }[]; swaps: Record<string, number> };
    assert.deepEqual(st.chains.map((c) => [c.name, c.ok]).sort(), [["consortium", true], ["evm", true], ["fabric", true]]);
    assert.equal(st.swaps.completed, done.length);

    const listed = await cli(["swaps", "list", "--state", "completed", "--route", "fabric:KRW->evm:KRWT", "--api", url]);
    assert.equal(listed.code, 0, listed.stderr);
    const swaps = JSON.parse(listed.stdout) as { id: string; state: string }[];
    assert.equal(swaps.length, 1);
    assert.ok(done.includes(swaps[0]!.id));

    const shown = await cli(["swaps", "show", done[0]!, "--api", url]);
    assert.equal(shown.code, 0, shown.stderr);
    const swap = JSON.parse(shown.stdout) as { id: string; state: string; history: { to: string }[] };
    assert.equal(swap.state, "completed");
    assert.deepEqual(swap.history.map((h) => h.to).slice(-1), ["completed"]);
    assert.ok(swap.history.length >= 4, "the history has every step");

    const badState = await cli(["swaps", "list", "--state", "bogus", "--api", url]);
    assert.equal(badState.code, 1);
    assert.match(badState.stderr, /state: unknown state "bogus"/);
    const badRoute = await cli(["swaps", "list", "--route", "fabric:KRW", "--api", url]);
    assert.match(badRoute.stderr, /--route: "fabric:KRW" is not <chain:ASSET>-><chain:ASSET>/);
    const badId = await cli(["swaps", "show", "nope", "--api", url]);
    assert.match(badId.stderr, /"nope" is not a swap id/);
    const missing = await cli(["swaps", "show", "0".repeat(24), "--api", url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NOT_FOUND/);
  });

  async function signerStats(): Promise<Record<string, number>> {
    const res = await fetch(`${signer.url}/v1/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return (await res.json()) as Record<string, number>;
  }
});
