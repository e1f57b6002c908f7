/**
 * Docker-target suite: the relayer's Fabric adapter against real Hyperledger Fabric peers
 * (docker-compose.yml, or any network named by the environment — test/docker/endpoints.ts and
 * README "Docker"). HTLC swap legs on Fabric: a user's lock reaches the relayer's watch
 * through checkpointed chaincode events, is verified and claimed, the user learns the
 * preimage from the Claimed event; and the refund path of an unclaimed lock by chain time.
 *
 * With ISTHMUS_FABRIC_GATEWAY set, the network is taken as running. Otherwise the suite
 * brings up the compose file's Fabric services itself (and takes them down after, unless
 * ISTHMUS_DOCKER_KEEP=1) — which needs a Docker engine: without one it is skipped with the
 * reason printed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { IsthmusError } from "../../chains/errors.ts";
import { FabricLedger } from "../../chains/fabric/adapter.ts";
import type { EventCheckpoint, Hex, LedgerEvent } from "../../chains/ledger.ts";
import { SwapStore } from "../../relayer/store.ts";
import { fabricEndpoints } from "./endpoints.ts";

const COMPOSE_FILE = resolve("docker-compose.yml");
/** The Fabric part of the compose file (not the `isthmus` devnet service, which takes fixed host ports). */
const FABRIC_SERVICES = ["fabric-init", "isthmus-chaincode"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function compose(args: string[], timeoutMs: number) {
  return spawnSync("docker-compose", ["-f", COMPOSE_FILE, ...args], { encoding: "utf8", timeout: timeoutMs });
}

async function until<T>(what: string, f: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const start = Date.now();
  let last: unknown = null;
  for (;;) {
    try {
      const v = await f();
      if (v !== null) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(1_000);
  }
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof IsthmusError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe("docker target: the Fabric adapter against real Fabric peers", function () {
  this.timeout(1_800_000);
  const ep = fabricEndpoints();
  let startedCompose = false;
  let dir: string;
  const adapters: FabricLedger[] = [];
  let issuer: FabricLedger, relayer: FabricLedger, user: FabricLedger;

  const open = (who: { mspId: string; dir: string }) => {
    const a = new FabricLedger({
      name: "fabric",
      gatewayAddress: ep.gateway,
      channel: ep.channel,
      chaincode: ep.chaincode,
      mspId: who.mspId,
      certPem: readFileSync(join(who.dir, "cert.pem"), "utf8"),
      keyPem: readFileSync(join(who.dir, "key.pem"), "utf8"),
      ordererCertPem: readFileSync(ep.ordererCert, "utf8"),
      blockTimeSec: 1,
    });
    adapters.push(a);
    return a;
  };

  before(async function () {
    if (!ep.external) {
      const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
      if (info.error || info.status !== 0) {
        const why = (info.error?.message ?? info.stderr ?? "").trim().split("\n")[0];
        console.log(`      (skipped: no Docker engine answers (${why}) and ISTHMUS_FABRIC_GATEWAY names no running network; see README "Docker")`);
        this.skip();
      }
      const up = compose(["up", "-d", "--build", ...FABRIC_SERVICES], 1_200_000);
      assert.equal(up.status, 0, `docker-compose up: ${up.stderr}`);
      startedCompose = true;
      await until("fabric-init to finish", async () => (/fabric-init done/.test(compose(["logs", "fabric-init"], 60_000).stdout) ? true : null), 600_000);
    }
    for (const f of [ep.ordererCert, ep.issuer.dir, ep.relayer.dir, ep.user.dir]) assert.ok(existsSync(f), `${f} exists (ISTHMUS_FABRIC_IDENTITIES=${ep.identities})`);
    dir = mkdtempSync(join(tmpdir(), "isthmus-docker-fabric-"));
    issuer = open(ep.issuer);
    relayer = open(ep.relayer);
    user = open(ep.user);
    // The chaincode container may still be connecting to the peers.
    await until("the chaincode to answer", async () => (await user.head()) ?? null, 300_000);
    await issuer.mint("KRW", relayer.address, 10_000n);
    await issuer.mint("KRW", user.address, 10_000n);
  });

  after(async () => {
    for (const a of adapters) await a.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (startedCompose && process.env.ISTHMUS_DOCKER_KEEP !== "1") compose(["down", "-v"], 300_000);
  });

  /** Polls the watcher's checkpointed stream until `want` matches an event; stores each checkpoint. */
  async function watchFor(watcher: FabricLedger, store: SwapStore, want: (e: LedgerEvent) => boolean): Promise<LedgerEvent[]> {
    const seen: LedgerEvent[] = [];
    await until(
      "the event",
      async () => {
        const head = await watcher.head();
        const batch = await watcher.eventsFrom(store.getEventCheckpoint("fabric")!, head.finalizedHeight);
        for (const { event, next } of batch.events) {
          seen.push(event);
          store.setEventCheckpoint("fabric", next);
        }
        store.setEventCheckpoint("fabric", batch.next);
        return seen.some(want) ? true : null;
      },
      60_000,
    );
    return seen;
  }

  it("a user's lock reaches the relayer through checkpointed chaincode events; the relayer verifies and claims it; the user learns the preimage", async () => {
    const store = new SwapStore(join(dir, "relayer.sqlite"));
    const start: EventCheckpoint = { block: (await relayer.head()).finalizedHeight + 1, afterTxId: null };
    store.setEventCheckpoint("fabric", start);
    const preimage = `0x${randomBytes(32).toString("hex")}` as Hex;
    const hashlock = `0x${createHash("sha256").update(Buffer.from(preimage.slice(2), "hex")).digest("hex")}` as Hex;
    const [userBefore, relayerBefore] = [await user.balance("KRW"), await relayer.balance("KRW")];

    const lock = await user.lock({ receiver: relayer.address, asset: "KRW", amount: 100n, hashlock, timelock: (await user.head()).finalizedTime + 600 });
    const seen = await watchFor(relayer, store, (e) => e.kind === "locked" && e.lock.lockId === lock.lockId);
    const locked = seen.find((e) => e.kind === "locked" && e.lock.lockId === lock.lockId)!;
    assert.equal(locked.txId, lock.txId);
    const verified = await relayer.getLock(lock.lockId);
    assert.equal(verified?.lock.status, "locked");
    assert.equal(verified?.lock.amount, 100n);
    assert.equal(verified?.lock.receiver, relayer.address);

    const claim = await relayer.claim(lock.lockId, preimage);
    await relayer.waitFinal(claim.height);
    const after = await watchFor(relayer, store, (e) => e.kind === "claimed" && e.lockId === lock.lockId);
    assert.ok(!after.some((e) => e.kind === "locked" && e.lock.lockId === lock.lockId), "the lock event is not delivered again after its checkpoint");
    const claimed = after.find((e) => e.kind === "claimed" && e.lockId === lock.lockId);
    assert.equal(claimed?.kind === "claimed" ? claimed.preimage : null, preimage, "the Claimed event reveals the preimage");
    assert.equal(await user.balance("KRW"), userBefore - 100n);
    assert.equal(await relayer.balance("KRW"), relayerBefore + 100n);
    await rejectsWithCode(relayer.claim(lock.lockId, preimage), "LOCK_NOT_OPEN");
    store.close();
  });

  it("refund path: an unclaimed lock is refunded to its sender after the timelock, by chain time, once", async () => {
    const hashlock = `0x${createHash("sha256").update(randomBytes(32)).digest("hex")}` as Hex;
    const before = await relayer.balance("KRW");
    const timelock = (await relayer.head()).finalizedTime + 8;
    const lock = await relayer.lock({ receiver: user.address, asset: "KRW", amount: 50n, hashlock, timelock });
    assert.equal(await relayer.balance("KRW"), before - 50n);
    await rejectsWithCode(relayer.refund(lock.lockId), "LOCK_NOT_EXPIRED");
    await until("the timelock to pass in chain time", async () => ((await relayer.head()).finalizedTime >= timelock ? true : null), 60_000);
    const r = await relayer.refund(lock.lockId);
    await relayer.waitFinal(r.height);
    assert.equal((await relayer.getLock(lock.lockId))?.lock.status, "refunded");
    assert.equal(await relayer.balance("KRW"), before);
    await rejectsWithCode(relayer.refund(lock.lockId), "LOCK_NOT_OPEN");
    await rejectsWithCode(user.claim(lock.lockId, `0x${"00".repeat(32)}` as Hex), "LOCK_NOT_OPEN");
  });

  it("every block the real orderer cut verifies: data hash, orderer signature, link to its predecessor", async () => {
    const head = (await relayer.head()).finalizedHeight;
    const events = await relayer.events(1, head);
    assert.ok(events.length >= 3, "the suite's own locks, claim and refund are in them");
  });
});
