/**
 * startHardhatNode: the child it spawns is the server, mines on an interval, fails loudly,
 * and never outlives its parent.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { IsthmusError } from "../../chains/errors.ts";
import { NODE_START_FAILED, startHardhatNode, type HardhatNode } from "../../chains/evm/hardhat-node.ts";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function blockNumber(url: string): Promise<number> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }) });
  return Number(((await res.json()) as { result: string }).result);
}

describe("startHardhatNode", function () {
  this.timeout(20_000);
  let node: HardhatNode | undefined;

  afterEach(async function () {
    await node?.stop();
    node = undefined;
  });

  it("serves the chain id on 127.0.0.1, mines on its interval, and stop() ends the process", async function () {
    node = await startHardhatNode({ port: 0, chainId: 31339, blockIntervalMs: 100 });
    assert.match(node.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(node.port > 0);
    assert.equal(node.chainId, 31339);
    const first = await blockNumber(node.url);
    await until("an idle block is mined", async () => (await blockNumber(node!.url)) > first, 5_000);

    const pid = node.pid;
    await node.stop();
    assert.equal(alive(pid), false);
    await node.stop(); // idempotent
  });

  it("reports a busy port with the child's own error", async function () {
    node = await startHardhatNode({ port: 0, blockIntervalMs: 0 });
    let err: unknown;
    try {
      await startHardhatNode({ port: node.port, blockIntervalMs: 0 });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof IsthmusError);
    assert.equal(err.code, NODE_START_FAILED);
    assert.match(err.message, /EADDRINUSE/);
    assert.match(String(err.details.stderrTail), /EADDRINUSE/);
  });

  it("the node dies with its parent, even when the parent is SIGKILLed", async function () {
    const script = `
      import { startHardhatNode } from "./chains/evm/hardhat-node.ts";
      const n = await startHardhatNode({ blockIntervalMs: 0 });
      console.log("PID " + n.pid);
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    parent.stdout.on("data", (d: Buffer) => (out += d.toString()));
    parent.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await until("the parent reports its node", () => /PID (\d+)/.test(out), 15_000);
      const pid = Number(/PID (\d+)/.exec(out)![1]);
      assert.ok(alive(pid));
      parent.kill("SIGKILL");
      await until("the orphaned node exits", () => !alive(pid), 5_000);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
