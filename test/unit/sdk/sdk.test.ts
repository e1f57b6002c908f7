import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { builtinModules, syncBuiltinESMExports } from "node:module";
import fs, { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import type { Hex, LedgerTiming } from "../../../chains/ledger.ts";
import { FileSwapStore } from "../../../sdk/file-store.ts";
import { checkMargin, claimWindowSec, minGapSec } from "../../../sdk/margin.ts";
import { generateSecret, hashlockOf } from "../../../sdk/secret.ts";
import { MemorySwapStore, WebStorageSwapStore, type SwapRecord, type SwapStore } from "../../../sdk/store.ts";

const evm: LedgerTiming = { blockTimeSec: 1, finalitySec: 2, clockSkewSec: 2 };
const consortium: LedgerTiming = { blockTimeSec: 0.25, finalitySec: 0.25, clockSkewSec: 5 };

describe("sdk margin rule", () => {
  const base = { quotedMarginSec: 30, source: consortium, dest: evm, sourceHead: { finalizedTime: 1000 }, destHead: { finalizedTime: 1000 } };

  it("states the two minimums from both chains' timing", () => {
    assert.equal(claimWindowSec(evm), Math.ceil(2 * 1 + 2 + 2));
    assert.equal(minGapSec(consortium, evm), Math.ceil(2 + 2 * 0.25 + 0.25 + 5 + 2));
  });

  it("accepts a counter-lock that leaves both the claim window and the quoted margin", () => {
    const r = checkMargin({ ...base, userTimelock: 1600, counterTimelock: 1500 });
    assert.deepEqual(r, { ok: true, claimWindowSec: 1500 - 1002, gapSec: 100 });
  });

  it("refuses a counter-lock too close to the user's lock, by the quoted margin", () => {
    assert.deepEqual(checkMargin({ ...base, userTimelock: 1600, counterTimelock: 1575 }), { ok: false, which: "timelock-gap", requiredSec: 30, actualSec: 25 });
  });

  it("enforces its own minimum when the relayer quotes a smaller margin, plus how far the source clock reads ahead", () => {
    const r = checkMargin({ ...base, quotedMarginSec: 1, sourceHead: { finalizedTime: 1010 }, userTimelock: 1600, counterTimelock: 1585 });
    // minGap 10 + clock gap (1010 + 0.25 - 1000)
    assert.deepEqual(r, { ok: false, which: "timelock-gap", requiredSec: minGapSec(consortium, evm) + 10.25, actualSec: 15 });
  });

  it("refuses a counter-lock that leaves too little time to claim it", () => {
    assert.deepEqual(checkMargin({ ...base, userTimelock: 1600, counterTimelock: 1005 }), { ok: false, which: "claim-window", requiredSec: 6, actualSec: 3 });
  });
});

describe("sdk secret", () => {
  it("makes distinct 32-byte preimages whose hashlock is their sha256", () => {
    const a = generateSecret();
    const b = generateSecret();
    assert.match(a.preimage, /^0x[0-9a-f]{64}$/);
    assert.notEqual(a.preimage, b.preimage);
    assert.equal(a.hashlock, `0x${createHash("sha256").update(Buffer.from(a.preimage.slice(2), "hex")).digest("hex")}`);
    assert.equal(hashlockOf(a.preimage), a.hashlock);
  });
});

function record(swapId: string, phase: "created" | "abandoned" = "created"): SwapRecord {
  const { preimage, hashlock } = generateSecret();
  const terms = {
    swapId,
    relayerUrl: "http://127.0.0.1:1",
    from: { chain: "consortium", asset: "KRW" },
    to: { chain: "evm", asset: "KRWT" },
    amountIn: "100",
    amountOut: "100",
    relayerFrom: `0x${"1".repeat(40)}` as Hex,
    userFrom: `0x${"2".repeat(40)}` as Hex,
    userTo: `0x${"3".repeat(40)}` as Hex,
    hashlock,
    preimage,
    timelockSec: 600,
    quotedMarginSec: 30,
  };
  return phase === "created" ? { ...terms, phase } : { ...terms, phase, reason: "test" };
}

describe("sdk swap stores", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "isthmus-sdk-store-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const fake = new Map<string, string>();
  const stores: [string, () => SwapStore][] = [
    ["FileSwapStore", () => new FileSwapStore(join(dir, "swaps"))],
    ["MemorySwapStore", () => new MemorySwapStore()],
    [
      "WebStorageSwapStore",
      () => {
        fake.clear();
        return new WebStorageSwapStore({
          getItem: (k) => fake.get(k) ?? null,
          setItem: (k, v) => void fake.set(k, v),
          key: (i) => [...fake.keys()][i] ?? null,
          get length() {
            return fake.size;
          },
        });
      },
    ],
  ];
  for (const [name, make] of stores) {
    it(`${name} keeps the latest record of each swap`, async () => {
      const s = make();
      const a = record("a");
      await s.put(a);
      await s.put(record("b"));
      const a2: SwapRecord = { ...a, phase: "abandoned", reason: "test" };
      await s.put(a2);
      assert.deepEqual(await s.get("a"), a2);
      assert.equal(await s.get("zzz"), null);
      assert.deepEqual((await s.list()).map((r) => r.swapId).sort(), ["a", "b"]);
    });
  }

  it("FileSwapStore writes owner-only files by rename, and refuses ids that would name another path", async () => {
    const s = new FileSwapStore(join(dir, "swaps"));
    await s.put(record("abc"));
    assert.equal(statSync(join(dir, "swaps")).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, "swaps", "abc.json")).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, "swaps")), ["abc.json"], "no temporary file left behind");
    await assert.rejects(s.put(record("../escape")), /not a plain swap id/);
  });

  it("FileSwapStore finishes a short write (a nearly full disk) instead of renaming half a record over the good one", async () => {
    const s = new FileSwapStore(join(dir, "swaps"));
    const a = record("short");
    await s.put(a);
    const real = fs.writeSync;
    let shortened = false;
    // write(2) may write less than asked and say so; the next call then gets the rest (or ENOSPC).
    (fs as { writeSync: unknown }).writeSync = (fd: number, data: string | Uint8Array, ...rest: unknown[]) => {
      if (shortened) return (real as (...a: unknown[]) => number)(fd, data, ...rest);
      shortened = true;
      const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      return real(fd, bytes.subarray(0, bytes.length >> 1));
    };
    syncBuiltinESMExports();
    try {
      const a2: SwapRecord = { ...a, phase: "abandoned", reason: "test" };
      await s.put(a2);
      assert.ok(shortened, "the short write happened");
      assert.deepEqual(await s.get("short"), a2);
    } finally {
      (fs as { writeSync: unknown }).writeSync = real;
      syncBuiltinESMExports();
    }
  });

  it("FileSwapStore names a damaged record without quoting it (the preimage stays out of errors)", async () => {
    const s = new FileSwapStore(join(dir, "swaps"));
    const secret = "0x" + "ab".repeat(32);
    writeFileSync(join(dir, "swaps", "bad.json"), `{"preimage":"${secret}",`);
    await assert.rejects(s.get("bad"), (err: Error) => {
      assert.match(err.message, /bad\.json is not a readable swap record/);
      assert.ok(!err.message.includes("abab"));
      return true;
    });
  });
});

describe("sdk browser entry", () => {
  it("bundles for the browser with no Node built-ins", async function () {
    this.timeout(30_000);
    const out = await build({ entryPoints: ["sdk/browser.ts"], bundle: true, platform: "browser", format: "esm", write: false, metafile: true, logLevel: "silent" });
    const inputs = Object.keys(out.metafile.inputs);
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    assert.deepEqual(inputs.filter((i) => builtins.has(i) || i.startsWith("node:")), []);
    const text = out.outputFiles[0]!.text;
    assert.doesNotMatch(text, /\bfrom\s*["']node:|require\(["']node:/);
    // The real SDK is in it, not an empty shell.
    for (const marker of ["COUNTER_LOCK_MISMATCH", "INSUFFICIENT_MARGIN", "getRandomValues", "/swaps"]) assert.ok(text.includes(marker), marker);
  });
});

describe("sdk package exports", () => {
  it("resolves isthmus/sdk and isthmus/sdk/browser by the package's own name", async () => {
    const node = await import("isthmus/sdk");
    const browser = await import("isthmus/sdk/browser");
    for (const fn of ["quote", "createSwap", "lock", "watch", "claim", "refund", "recover"] as const) {
      assert.equal(typeof node[fn], "function", fn);
      assert.equal(browser[fn], node[fn], `${fn} is the same function from both entries`);
    }
    assert.equal(typeof node.FileSwapStore, "function");
    assert.equal("FileSwapStore" in browser, false, "the browser entry has no file store");
  });
});

describe("sdk dependency direction", () => {
  it("no file under sdk/ or examples/ imports relayer/", async () => {
    const { readFileSync: read } = await import("node:fs");
    const files = ["sdk", "examples", "examples/lib"].flatMap((d) => readdirSync(d).filter((f) => f.endsWith(".ts")).map((f) => join(d, f)));
    assert.ok(files.length >= 15, `found ${files.length} files`);
    const offenders = files.filter((f) => /from\s+["'][./]*relayer\//.test(read(f, "utf8")));
    assert.deepEqual(offenders, []);
  });
});
