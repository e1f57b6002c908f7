/**
 * The chaincode package as it would deploy to a real peer: compiled by its own tsconfig to
 * CommonJS (chains/fabric/chaincode/dist), started by `fabric-chaincode-node start` in a
 * child process (classic mode: the chaincode dials the peer's ChaincodeSupport/Register),
 * then driven through the gateway.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { CHAINCODE_NAME } from "../../chains/fabric/devnet.ts";
import { connectGateway } from "../../chains/fabric/gateway-client.ts";
import { fabricAddress } from "../../chains/fabric/identity.ts";
import { FabricNetwork } from "../../chains/fabric/network.ts";

const require = createRequire(import.meta.url);
const PKG = resolve("chains/fabric/chaincode");

describe("chaincode package under fabric-chaincode-node (classic registration)", function () {
  this.timeout(90_000);
  let dir: string;
  let net: FabricNetwork;
  let child: ChildProcess | null = null;

  before(async () => {
    const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", PKG], { encoding: "utf8" });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-classic-"));
    net = await FabricNetwork.start({ dir });
  });

  after(async () => {
    child?.kill("SIGKILL");
    await net?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers over ChaincodeSupport/Register and serves transactions", async () => {
    const cli = join(dirname(require.resolve("fabric-shim/package.json")), "cli.js");
    const watchdog = resolve("chains/evm/parent-watchdog.cjs"); // the child exits when this process dies
    child = spawn(process.execPath, ["--require", watchdog, cli, "start", "--peer.address", net.address, "--chaincode-id-name", `${CHAINCODE_NAME}:1.0`, "--module-path", PKG], {
      stdio: ["pipe", "ignore", "pipe"],
      env: { ...process.env, CORE_CHAINCODE_LOGGING_LEVEL: "ERROR", CORE_PEER_TLS_ENABLED: "false" },
    });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    await net.chaincodes.waitRegistered(CHAINCODE_NAME, 30_000).catch((err) => {
      throw new Error(`${(err as Error).message}; chaincode stderr: ${stderr.slice(-2000)}`);
    });
    const issuer = net.identity("Org1MSP", "issuer");
    const alice = net.identity("Org2MSP", "carol");
    const to = fabricAddress(alice.mspId, alice.certPem);
    const g = connectGateway(net.address, issuer);
    try {
      const c = g.gateway.getNetwork(net.channel).getContract(CHAINCODE_NAME);
      assert.equal(Buffer.from(await c.submitTransaction("Mint", "KRW", to, "4200")).toString(), "4200");
      assert.equal(Buffer.from(await c.evaluateTransaction("BalanceOf", "KRW", to)).toString(), "4200");
    } finally {
      g.close();
    }
  });
});
