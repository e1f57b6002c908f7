/**
 * Durability of a consortium validator under kill -9 (issue 3): what it reported as committed
 * is in its own store after a restart, before any peer could hand it back. 4 validator
 * processes run a transfer load; the test records what validator 3 reports (heights, block
 * hashes, state roots, a balance at each height), SIGKILLs it right after its last answer,
 * then kills the other three so that, restarted alone, it has nobody to sync from. Its store
 * must hold every reported block and state; with the others back, the chain continues.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConsortiumDevnet, startConsortiumDevnet } from "../../chains/consortium/devnet.ts";
import { derivePrivateKey, Signer } from "../../chains/consortium/crypto.ts";
import { ConsortiumClient } from "../../chains/consortium/rpc/client.ts";
import { eventually } from "./support/eventually.ts";
import { assertHoldsReports, balanceAt, type CommittedReport, reportCommitted, startTransferLoad } from "./support/consortium-durability.ts";

const BLOCK_MS = 200;
const senders = [0, 1, 2, 3].map((i) => Signer.fromPrivateKey(derivePrivateKey("test/durability-sender", i)));
const sink = Signer.fromPrivateKey(derivePrivateKey("test/durability-sink", 0)).address;

describe("consortium validator durability under kill -9", function () {
  this.timeout(180_000);
  let dir: string;
  let devnet: ConsortiumDevnet;
  let clients: ConsortiumClient[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-durability-"));
    devnet = await startConsortiumDevnet({
      dataDir: dir,
      blockIntervalMs: BLOCK_MS,
      balances: senders.map((s) => ({ address: s.address, asset: "KRW", amount: 1_000_000n })),
    });
    clients = devnet.processes.map((p) => new ConsortiumClient(p.apiEndpoint));
  });

  after(async () => {
    for (const c of clients ?? []) c.close();
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a validator SIGKILLed under load keeps every block and state it reported; restarted alone it still has them, then rejoins", async () => {
    const victim = devnet.processes[3]!;
    const others = devnet.processes.slice(0, 3);
    const load = startTransferLoad(clients[0]!, devnet.chainId, senders, sink);
    let loadStopped = false;
    try {
      // Reports across several heights with transfers in them, the last taken just before the kill.
      const reports: CommittedReport[] = [];
      await eventually("validator 3 to report 10 heights with transfers committed", 60_000, async () => {
        const r = await reportCommitted(clients[3]!, sink);
        if (reports.length === 0 || r.height > reports[reports.length - 1]!.height) reports.push(r);
        const withLoad = reports.filter((x) => x.balance > 0n);
        return withLoad.length >= 10 && withLoad[withLoad.length - 1]!.balance > withLoad[0]!.balance ? true : undefined;
      });
      // The instant of the crash: right after the validator's latest answer (status, then nothing).
      const status = await clients[3]!.getStatus();
      await victim.kill("SIGKILL");
      const lastSaid = { height: status.height, hash: status.lastBlockHash };
      assert.ok(lastSaid.height >= reports[reports.length - 1]!.height);

      // The chain went on without it; then everyone dies, so nothing can be synced back.
      const atKill = (await clients[0]!.getStatus()).height;
      await eventually("3 validators to finalize 3 more blocks under load", 30_000, async () => ((await clients[0]!.getStatus()).height >= atKill + 3 ? true : undefined));
      const committed = await load.stop();
      loadStopped = true;
      assert.ok(committed > 0);
      await Promise.all(others.map((p) => p.kill("SIGKILL")));
      assert.ok(devnet.processes.every((p) => !p.running), "no validator runs");

      await victim.start();
      assert.ok(others.every((p) => !p.running), "its peers are still down: whatever it has is from its own store");
      const alone = await clients[3]!.getStatus();
      const block = await clients[3]!.getBlock(lastSaid.height);
      assert.equal(block?.hash, lastSaid.hash, `block ${lastSaid.height}, its last reported head, survived the crash`);
      const checked = await assertHoldsReports(clients[3]!, reports, sink);
      assert.ok(checked >= 1, "at least one reported balance was within the proven heights");
      // Its state at its own head agrees with its blocks: the head's state root proves the balance it reports.
      assert.equal((await clients[3]!.getAccount(sink)).balances.get("KRW") ?? 0n, await balanceAt(clients[3]!, sink, alone.height));
      assert.equal((await clients[3]!.getStatus()).height, alone.height, "alone, it neither synced nor decided anything");

      // With its peers back, the chain continues with it and without a fork.
      await Promise.all(others.map((p) => p.start()));
      const top = Math.max(...(await Promise.all(clients.map((c) => c.getStatus().then((s) => s.height)))));
      await eventually("all 4 validators 3 blocks past the crash", 60_000, async () => {
        const hs = await Promise.all(clients.map((c) => c.getStatus().then((s) => s.height)));
        return Math.min(...hs) >= top + 3 ? true : undefined;
      });
      for (const r of reports) {
        const hashes = await Promise.all(clients.map((c) => c.getBlock(r.height).then((b) => b!.hash)));
        assert.deepEqual(hashes, hashes.map(() => r.hash), `every validator has the reported block ${r.height}`);
      }
    } finally {
      if (!loadStopped) await load.stop().catch(() => 0);
    }
  });
});
