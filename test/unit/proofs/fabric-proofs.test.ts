/**
 * proofs/fabric through the `fabric-lock` bundle: bundles captured from the embedded Fabric
 * network (test/vectors/fabric/capture.ts) verify offline against the channel's config
 * block; each field tampered, truncated or swapped fails with a precise reason; random
 * mutations never crash the verifier nor change what it accepts; `isthmus proof verify`
 * prints a Fabric proof.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import fc from "fast-check";
import { common } from "@hyperledger/fabric-protos";
import { lockIdOf } from "../../../chains/fabric/chaincode/src/htlc.ts";
import { verifyProofBundle } from "../../../proofs/bundle.ts";
import { blockHeaderHash, fabricLockId, lockWritesOf, readChannelConfig } from "../../../proofs/fabric/index.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const VECTORS = path.join(ROOT, "test/vectors/fabric");
const read = (f: string) => JSON.parse(readFileSync(path.join(VECTORS, f), "utf8"));
const locked = read("bundle-locked.json");
const claimed = read("bundle-claimed.json");
const anchor = read("anchor.json");
const otherAnchor = read("anchor-other-network.json");
const RUNS = Number(process.env.FC_RUNS ?? 150);

const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString("hex")}`;
const bytes = (h: string) => Uint8Array.from(Buffer.from(h.slice(2), "hex"));
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest();

const rejects = (r: { ok: boolean; reason?: string }, why: RegExp) => {
  assert.equal(r.ok, false, "expected the bundle to be refused");
  assert.match(r.reason!, why);
};

/** The bundle with its block re-encoded after `edit` (the orderer's signature is NOT redone). */
function withBlock(b: typeof locked, edit: (blk: common.Block) => void) {
  const blk = common.Block.deserializeBinary(bytes(b.block));
  edit(blk);
  return { ...b, block: hex(blk.serializeBinary()) };
}

describe("proofs/fabric: fabric-lock bundles", function () {
  it("the lock transaction's bundle proves the locked lock, anchored at the channel's config block", function () {
    const r = verifyProofBundle(locked, anchor);
    assert.ok(r.ok, r.ok ? "" : r.reason);
    assert.equal(r.kind, "fabric-lock");
    assert.equal(r.chainId, locked.channel);
    assert.equal(r.anchored, true);
    assert.match(r.anchor, /endorsed by Org1MSP, Org2MSP|endorsed by Org2MSP, Org1MSP/);
    assert.equal(r.lock?.status, "locked");
    assert.equal(r.lock?.amount, "12345");
    assert.equal(r.lock?.asset, "KRW");
    assert.equal(r.lock?.preimage, null);
    assert.equal(r.height, locked.headers.length + 1);
  });

  it("the claim transaction's bundle proves the claim and its preimage", function () {
    const r = verifyProofBundle(claimed, anchor);
    assert.ok(r.ok, r.ok ? "" : r.reason);
    assert.equal(r.lock?.status, "claimed");
    assert.equal(hex(sha(bytes(r.lock!.preimage!))), r.lock!.hashlock);
    const lockedAt = verifyProofBundle(locked, anchor);
    assert.ok(lockedAt.ok && r.height > lockedAt.height, "the claim is in a later block than the lock");
  });

  it("without an anchor it is checked against the config block it carries and says so", function () {
    const r = verifyProofBundle(locked);
    assert.ok(r.ok);
    assert.equal(r.anchored, false);
    assert.match(r.anchor, /^unanchored/);
  });

  it("a trusted block inside the chain anchors it; a wrong hash or an uncovered number does not", function () {
    const h1 = locked.headers[0];
    const hash = hex(blockHeaderHash({ number: h1.number, previousHash: bytes(h1.previousHash), dataHash: bytes(h1.dataHash) }));
    assert.ok(verifyProofBundle(locked, { ...anchor, trustedBlock: { number: h1.number, hash } }).ok);
    rejects(verifyProofBundle(locked, { ...anchor, trustedBlock: { number: h1.number, hash: `0x${"11".repeat(32)}` } }), new RegExp(`block ${h1.number} hashes to 0x[0-9a-f]{64}, not the trusted 0x(11){32}`));
    rejects(verifyProofBundle(locked, { ...anchor, trustedBlock: { number: 99, hash } }), /trusted block 99 is not covered by the proof's headers 1\.\.\d+/);
  });

  it("another network's config (other CAs) refuses the orderer's signature", function () {
    rejects(verifyProofBundle(locked, otherAnchor), /previous_hash is not the trusted block 0's hash/);
    // trusting the proven block directly skips the chain; the signatures still fail
    const blk = common.Block.deserializeBinary(bytes(locked.block)).getHeader()!;
    const hash = hex(blockHeaderHash({ number: blk.getNumber(), previousHash: blk.getPreviousHash_asU8(), dataHash: blk.getDataHash_asU8() }));
    rejects(verifyProofBundle(locked, { ...otherAnchor, trustedBlock: { number: blk.getNumber(), hash } }), /orderer signature 0: OrdererMSP identity .* is not issued by the MSP's CA/);
  });

  it("tampered blocks fail with the check that catches them", function () {
    // an envelope byte: the data hash
    rejects(
      verifyProofBundle(withBlock(locked, (blk) => {
        const envs = blk.getData()!.getDataList_asU8().map((e) => Uint8Array.from(e));
        envs[0]![envs[0]!.length - 5]! ^= 1;
        blk.getData()!.setDataList(envs);
      }), anchor),
      /data_hash does not match its 1 envelopes/,
    );
    // the data hash made consistent again: the header changed, so the orderer's signature fails
    rejects(
      verifyProofBundle(withBlock(locked, (blk) => {
        const envs = blk.getData()!.getDataList_asU8().map((e) => Uint8Array.from(e));
        envs[0]![envs[0]!.length - 5]! ^= 1;
        blk.getData()!.setDataList(envs);
        blk.getHeader()!.setDataHash(sha(Buffer.concat(envs)));
      }), anchor),
      /previous_hash|orderer signature 0 \(OrdererMSP\): signature does not verify/,
    );
    // the transactions filter says MVCC_READ_CONFLICT
    rejects(
      verifyProofBundle(withBlock(locked, (blk) => {
        const md = blk.getMetadata()!.getMetadataList_asU8().map((m) => Uint8Array.from(m));
        md[common.BlockMetadataIndex.TRANSACTIONS_FILTER] = Uint8Array.of(11);
        blk.getMetadata()!.setMetadataList(md);
      }), anchor),
      /is marked MVCC_READ_CONFLICT in the transactions filter, not VALID/,
    );
    // no orderer signature
    rejects(
      verifyProofBundle(withBlock(locked, (blk) => {
        const md = blk.getMetadata()!.getMetadataList_asU8().map((m) => Uint8Array.from(m));
        md[common.BlockMetadataIndex.SIGNATURES] = new Uint8Array(new ArrayBuffer(0));
        blk.getMetadata()!.setMetadataList(md);
      }), anchor),
      /no orderer signature/,
    );
    // the orderer's signature turned high-S (still a valid ECDSA signature, refused by Fabric's rule)
    rejects(
      verifyProofBundle(withBlock(locked, (blk) => {
        const list = blk.getMetadata()!.getMetadataList_asU8().map((m) => Uint8Array.from(m));
        const md = common.Metadata.deserializeBinary(list[common.BlockMetadataIndex.SIGNATURES]!);
        const s0 = md.getSignaturesList()[0]!;
        s0.setSignature(highS(s0.getSignature_asU8()));
        list[common.BlockMetadataIndex.SIGNATURES] = Uint8Array.from(md.serializeBinary());
        blk.getMetadata()!.setMetadataList(list);
      }), anchor),
      /not in the lower half of the order/,
    );
  });

  it("truncated, swapped or mislabelled bundles fail with a reason", function () {
    rejects(verifyProofBundle({ ...locked, block: locked.block.slice(0, 400) }, anchor), /malformed Fabric proof|block has no header|data_hash/);
    rejects(verifyProofBundle({ ...locked, headers: locked.headers.slice(1) }, anchor), /previous_hash is not the trusted block 0's hash|trusted block 0 is not covered/);
    rejects(verifyProofBundle({ ...claimed, headers: locked.headers }, anchor), /header chain: block \d+ follows block \d+|previous_hash/);
    rejects(verifyProofBundle({ ...locked, headers: [{ ...locked.headers[0], dataHash: `0x${"00".repeat(32)}` }, ...locked.headers.slice(1)] }, anchor), /previous_hash is not the hash of block 1/);
    rejects(verifyProofBundle({ ...locked, block: claimed.block }, anchor), /header chain|previous_hash/);
    rejects(verifyProofBundle({ ...locked, txIndex: 1 }, anchor), /txIndex 1 is not in block \d+ \(1 transactions\)/);
    rejects(verifyProofBundle({ ...locked, lockId: `0x${"ab".repeat(32)}` }, anchor), /does not write lock 0x(ab){32}/);
    rejects(verifyProofBundle({ ...locked, chaincode: "other" }, anchor), /invokes chaincode "isthmus", not "other"/);
    rejects(verifyProofBundle({ ...locked, channel: "other" }, anchor), /config block is for channel "isthmus", bundle for "other"/);
    rejects(verifyProofBundle({ ...locked, configBlock: otherAnchor.configBlock }), /previous_hash is not the trusted block 0's hash/);
    rejects(verifyProofBundle(locked, { kind: "evm-header", height: 1, hash: `0x${"00".repeat(32)}` }), /cannot anchor a fabric-lock bundle/);
    rejects(verifyProofBundle(locked, { ...anchor, configBlock: "0x1234" }), /config block does not decode|config block must have/);
    rejects(verifyProofBundle({ ...locked, headers: [{ number: "1" }] }, anchor), /bundle\.headers\[0\] needs an integer number/);
  });

  it("the lock id rule and the lock-key scan agree with the chaincode", function () {
    const a = ["0x" + "11".repeat(20), "0x" + "22".repeat(20), "KRW", 5n, "0x" + "33".repeat(32), 1_700_000_000] as const;
    assert.equal(fabricLockId(...a), lockIdOf(...a));
    const blk = common.Block.deserializeBinary(bytes(claimed.block));
    assert.deepEqual(lockWritesOf(blk, "isthmus"), [{ txIndex: 0, lockId: claimed.lockId }]);
    assert.deepEqual(lockWritesOf(blk, "other"), []);
    const cfg = readChannelConfig(bytes(anchor.configBlock));
    assert.ok(cfg.ok);
    assert.deepEqual([...cfg.config.msps.keys()].sort(), ["OrdererMSP", "Org1MSP", "Org2MSP"]);
  });

  it("random byte mutations of the block never crash and never change what is proven", function () {
    const truth = verifyProofBundle(locked, anchor);
    assert.ok(truth.ok);
    const block = bytes(locked.block);
    fc.assert(
      fc.property(fc.nat(block.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const b = Uint8Array.from(block);
        b[at]! ^= x;
        const r = verifyProofBundle({ ...locked, block: hex(b) }, anchor);
        if (r.ok) assert.deepEqual({ ...r }, { ...truth }, `flipping byte ${at} changed what the bundle proves`);
      }),
      { numRuns: RUNS },
    );
  });

  it("random JSON mutations of the bundle never crash and never change what is proven", function () {
    const truth = verifyProofBundle(claimed, anchor);
    assert.ok(truth.ok);
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, at: (string | number)[]) => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
      else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
      else paths.push(at);
    };
    walk(claimed, []);
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.constant(null), fc.constant("0x"), fc.uint8Array({ maxLength: 40 }).map(hex));
    fc.assert(
      fc.property(fc.nat(), value, (pi, v) => {
        const p = paths[pi % paths.length]!;
        const b = structuredClone(claimed);
        let o = b;
        for (const k of p.slice(0, -1)) o = o[k];
        if (o[p.at(-1)!] === v) return;
        o[p.at(-1)!] = v;
        const r = verifyProofBundle(b, anchor);
        // `chain` is a display label; the config block the bundle carries is replaced by the anchor's
        if (r.ok) assert.deepEqual({ ...r, chain: "" }, { ...truth, chain: "" }, `mutating ${p.join(".")} changed what the bundle proves`);
      }),
      { numRuns: RUNS },
    );
  });

  it("isthmus proof verify prints a Fabric proof and refuses a tampered one", async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(path.join(tmpdir(), "isthmus-fabric-proof-"));
    writeFileSync(path.join(dir, "b.json"), JSON.stringify(claimed));
    writeFileSync(path.join(dir, "a.json"), JSON.stringify(anchor));
    writeFileSync(path.join(dir, "bad.json"), JSON.stringify({ ...claimed, txIndex: 3 }));
    const run = promisify(execFile);
    const ok = await run(process.execPath, [path.join(ROOT, "bin/isthmus.js"), "proof", "verify", path.join(dir, "b.json"), "--trust", path.join(dir, "a.json")]);
    assert.match(ok.stdout, /is claimed on fabric \(channel isthmus\)/);
    const bad = await run(process.execPath, [path.join(ROOT, "bin/isthmus.js"), "proof", "verify", path.join(dir, "bad.json"), "--trust", path.join(dir, "a.json")]).then(
      () => null,
      (err: { code: number; stderr: string; stdout: string }) => err,
    );
    assert.ok(bad, "a tampered bundle must fail");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr + bad.stdout, /txIndex 3 is not in block/);
  });
});

/** The same ECDSA signature with s replaced by n - s. */
function highS(der: Uint8Array): Uint8Array {
  const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const b = Buffer.from(der);
  const rLen = b[3]!;
  const r = b.subarray(4, 4 + rLen);
  const sLen = b[5 + rLen]!;
  const s = BigInt("0x" + b.subarray(6 + rLen, 6 + rLen + sLen).toString("hex"));
  let sHex = (N - s).toString(16);
  if (sHex.length % 2) sHex = "0" + sHex;
  let sb = Buffer.from(sHex, "hex");
  if (sb[0]! & 0x80) sb = Buffer.concat([Buffer.of(0), sb]);
  const body = Buffer.concat([Buffer.of(0x02, r.length), r, Buffer.of(0x02, sb.length), sb]);
  return Buffer.concat([Buffer.of(0x30, body.length), body]);
}
