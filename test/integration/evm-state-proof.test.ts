/**
 * getLock verifies state proofs against a checked header chain: a lying RPC (a proxy in
 * front of a real hardhat node that forges a storage value, a block or a proof node)
 * makes it throw VerificationError with the reason. Also: proof bundles verify offline.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hexlify, sha256, toQuantity, type JsonRpcProvider } from "ethers";
import { EvmLedger, type EvmLedgerOptions } from "../../chains/evm/adapter.ts";
import { deployEvmContracts, type EvmDeployment } from "../../chains/evm/deploy.ts";
import { hardhatAccount, startHardhatNode, type HardhatNode } from "../../chains/evm/hardhat-node.ts";
import { createProvider } from "../../chains/evm/provider.ts";
import { VerificationError } from "../../chains/errors.ts";
import type { Hex } from "../../chains/ledger.ts";
import { verifyProofBundle } from "../../proofs/bundle.ts";
import { htlcLockSlots } from "../../proofs/evm/index.ts";

const CHAIN_ID = 31337;
const ETH = "0x0000000000000000000000000000000000000000";
const USER = hardhatAccount(1);
const RELAYER = hardhatAccount(2);

type Rpc = { id: number; method: string; params: unknown[] };
/** Rewrites one JSON-RPC answer; return the result unchanged to pass it through. */
type Forge = (req: Rpc, result: unknown) => unknown;

describe("EvmLedger.getLock: state proofs against a lying RPC", function () {
  this.timeout(30_000);
  let node: HardhatNode;
  let dep: EvmDeployment;
  let rpc: JsonRpcProvider;
  let proxy: Server;
  let forge: Forge | undefined;
  const opened: EvmLedger[] = [];

  const ledger = (url: string, extra: Partial<EvmLedgerOptions> = {}): EvmLedger => {
    const l = new EvmLedger({
      name: "evm",
      rpcUrl: url,
      chainId: CHAIN_ID,
      privateKey: RELAYER.privateKey,
      htlcAddress: dep.htlc,
      assets: [{ symbol: "ETH", decimals: 18, id: ETH }],
      confirmations: 2,
      blockTimeSec: 1,
      clockSkewSec: 2,
      pollingIntervalMs: 50,
      ...extra,
    });
    opened.push(l);
    return l;
  };
  const proxyUrl = () => `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const lockOne = async (): Promise<Hex> => {
    const user = ledger(node.url, { privateKey: USER.privateKey });
    const preimage = hexlify(randomBytes(32)) as Hex;
    const timelock = (await rpc.getBlock("latest"))!.timestamp + 3600;
    const { lockId } = await user.lock({ receiver: RELAYER.address, asset: "ETH", amount: 1000n, hashlock: sha256(preimage) as Hex, timelock });
    await rpc.send("hardhat_mine", [toQuantity(3)]);
    return lockId;
  };
  const refusal = async (p: Promise<unknown>, reason: RegExp): Promise<void> => {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof VerificationError, `expected VerificationError, got ${String(err)}`);
      assert.match(err.message, reason);
      return true;
    });
  };

  before(async function () {
    node = await startHardhatNode({ port: 0, chainId: CHAIN_ID, blockIntervalMs: 0 });
    rpc = createProvider(node.url, CHAIN_ID);
    dep = await deployEvmContracts({ rpcUrl: node.url, chainId: CHAIN_ID, deployerKey: hardhatAccount(0).privateKey });
    proxy = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const one = async (r: Rpc) => {
          const answer = (await (await fetch(node.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(r) })).json()) as { result?: unknown };
          if (forge && "result" in answer) answer.result = forge(r, structuredClone(answer.result));
          return answer;
        };
        const parsed = JSON.parse(body) as Rpc | Rpc[];
        void (Array.isArray(parsed) ? Promise.all(parsed.map(one)) : one(parsed)).then((out) => {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(out));
        });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  });
  afterEach(() => (forge = undefined));
  after(async function () {
    await Promise.all(opened.map((l) => l.close()));
    rpc?.destroy();
    await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
    await node?.stop();
  });

  it("an honest node: verified state proof, checkpoint moves forward along the chain", async function () {
    const lockId = await lockOne();
    const l = ledger(proxyUrl());
    const got = await l.getLock(lockId);
    assert.ok(got);
    assert.equal(got.lock.amount, 1000n);
    assert.equal(got.verified.kind, "state-proof");
    const block = (await rpc.send("eth_getBlockByNumber", [toQuantity(got.verified.height), false])) as { stateRoot: string; hash: string };
    assert.equal(got.verified.kind === "state-proof" && got.verified.stateRoot, block.stateRoot);
    assert.deepEqual(l.trustedHeader(), { height: got.verified.height, hash: block.hash });
    await rpc.send("hardhat_mine", [toQuantity(4)]);
    assert.equal(await l.getLock(`0x${"cd".repeat(32)}`), null, "exclusion proof of an unknown id");
    assert.equal(l.trustedHeader()!.height, got.verified.height + 4);
  });

  it("finality from the node's finalized tag (hardhat: the latest block) instead of confirmations", async function () {
    const user = ledger(node.url, { privateKey: USER.privateKey });
    const preimage = hexlify(randomBytes(32)) as Hex;
    const { lockId, height } = await user.lock({ receiver: RELAYER.address, asset: "ETH", amount: 7n, hashlock: sha256(preimage) as Hex, timelock: (await rpc.getBlock("latest"))!.timestamp + 3600 });
    assert.equal(await ledger(proxyUrl()).getLock(lockId), null, "2 confirmations: not final yet");
    const tagged = ledger(proxyUrl(), { finalityTag: "finalized" });
    const got = await tagged.getLock(lockId);
    assert.equal(got?.lock.amount, 7n);
    assert.equal(got?.verified.height, height);
    assert.equal((await tagged.head()).finalizedHeight, height);
    await tagged.waitFinal(height, 1000);
  });

  it("forged storage value: refused, naming the slot", async function () {
    const lockId = await lockOne();
    forge = (r, result) => {
      if (r.method === "eth_getProof") (result as { storageProof: { value: string }[] }).storageProof[3]!.value = "0xde0b6b3a7640000";
      return result;
    };
    await refusal(ledger(proxyUrl()).getLock(lockId), /storage value 3 claimed as 0xde0b6b3a7640000 but the proof shows 0x3e8/);
  });

  it("forged proof node: refused", async function () {
    const lockId = await lockOne();
    forge = (r, result) => {
      if (r.method === "eth_getProof") {
        const sp = (result as { storageProof: { proof: string[] }[] }).storageProof[0]!;
        const last = sp.proof.at(-1)!;
        sp.proof[sp.proof.length - 1] = `${last.slice(0, -4)}ffff`;
      }
      return result;
    };
    await refusal(ledger(proxyUrl()).getLock(lockId), /storage proof 0: .*does not hash/);
  });

  it("forged block (a stateRoot swapped into the finalized header): refused by the parentHash chain", async function () {
    const lockId = await lockOne();
    const head = await rpc.getBlockNumber();
    forge = (r, result) => {
      if (r.method === "eth_getBlockByNumber" && Number((r.params as string[])[0]) === head - 2) {
        (result as { stateRoot: string }).stateRoot = `0x${"11".repeat(32)}`;
      }
      return result;
    };
    await refusal(ledger(proxyUrl()).getLock(lockId), new RegExp(`header ${head - 1}'s parentHash is not the hash of header ${head - 2}`));
  });

  it("a node hiding a lock (empty slots, or another lock's proofs): refused", async function () {
    const lockId = await lockOne();
    forge = (r, result) => {
      if (r.method === "eth_getProof") for (const sp of (result as { storageProof: { value: string; proof: string[] }[] }).storageProof) [sp.value, sp.proof] = ["0x0", []];
      return result;
    };
    await refusal(ledger(proxyUrl()).getLock(lockId), /storage proof 0: proof ends after 0 node\(s\) before the key's path does/);
    forge = undefined;
    const other = await lockOne();
    const otherProof = (await rpc.send("eth_getProof", [dep.htlc, htlcLockSlots(other), "latest"])) as { storageProof: unknown[] };
    forge = (r, result) => {
      if (r.method === "eth_getProof") (result as { storageProof: unknown[] }).storageProof = otherProof.storageProof;
      return result;
    };
    await refusal(ledger(proxyUrl()).getLock(lockId), /storage proof 0 is for key 0x[0-9a-f]{64}, expected slot/);
  });

  it("the first finalized header it sees becomes the checkpoint, before any getLock", async function () {
    const l = ledger(proxyUrl());
    assert.equal(l.trustedHeader(), undefined);
    const head = await l.head();
    const block = (await rpc.send("eth_getBlockByNumber", [toQuantity(head.finalizedHeight), false])) as { hash: string };
    assert.deepEqual(l.trustedHeader(), { height: head.finalizedHeight, hash: block.hash });
  });

  it("a chain that does not descend from the checkpoint: refused", async function () {
    const lockId = await lockOne();
    const l = ledger(proxyUrl(), { checkpoint: { height: 1, hash: `0x${"22".repeat(32)}` } });
    await refusal(l.getLock(lockId), /header 1 hashes to 0x[0-9a-f]{64}, not the trusted checkpoint 0x2222/);
  });

  it("proof bundle: verifies offline from a trusted later header, and fails on tampering or a wrong anchor", async function () {
    const lockId = await lockOne();
    const l = ledger(node.url);
    const bundle = JSON.parse(JSON.stringify(await l.proveLock(lockId)));
    const head = (await rpc.send("eth_getBlockByNumber", ["latest", false])) as { hash: Hex; number: string };
    assert.equal(bundle.headers.length, 3, "the proven block and its 2 confirmations");
    assert.equal(bundle.headers.at(-1).number, head.number);
    const anchor = { kind: "evm-header", chainId: CHAIN_ID, height: Number(head.number), hash: head.hash };
    const ok = verifyProofBundle(bundle, anchor);
    assert.ok(ok.ok, ok.ok ? "" : ok.reason);
    assert.equal(ok.anchored, true);
    assert.equal(ok.height, Number(head.number) - 2);
    assert.equal(ok.lock?.lockId, lockId);
    assert.equal(ok.lock?.amount, "1000");
    assert.equal(ok.lock?.status, "locked");
    const unanchored = verifyProofBundle(bundle);
    assert.ok(unanchored.ok && !unanchored.anchored);

    const bad = (mut: (b: typeof bundle) => void, a: unknown, reason: RegExp) => {
      const b = structuredClone(bundle);
      mut(b);
      const r = verifyProofBundle(b, a);
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, reason);
    };
    bad((b) => (b.storageProof[3].value = "0x1"), anchor, /storage value 3/);
    // A forged proven block (its own state root) no longer matches its child's parentHash.
    bad((b) => (b.headers[0].stateRoot = `0x${"44".repeat(32)}`), anchor, /parentHash is not the hash of header/);
    bad((b) => (b.headers[2].difficulty = "0x5"), anchor, /bundle's header \d+ hashes to .*not the trusted/);
    bad(() => {}, { ...anchor, hash: `0x${"33".repeat(32)}` }, /hashes to .*not the trusted/);
    bad(() => {}, { ...anchor, height: anchor.height - 3 }, /is older than the proven block/);
    bad(() => {}, { ...anchor, chainId: 1 }, /chain id 1/);
    bad((b) => (b.version = 2), anchor, /unsupported bundle version 2/);
    bad((b) => (b.kind = "fabric-tx"), anchor, /unknown bundle kind/);
  });
});
