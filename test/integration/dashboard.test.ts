import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";

/** Debian's Chromium (Playwright's own browser download does not work offline). */
const CHROMIUM = process.env.ISTHMUS_CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
function newSecret(): { preimage: Hex; hashlock: Hex } {
  const p = randomBytes(32);
  return { preimage: `0x${p.toString("hex")}`, hashlock: `0x${createHash("sha256").update(p).digest("hex")}` };
}

/** Set to a file path (…png) to keep screenshots of the page: one with the swap in flight, one with it completed. */
const SCREENSHOT = process.env.ISTHMUS_DASHBOARD_SCREENSHOT;

/**
 * A TCP relay between the browser and the daemon, so the test can cut the network under a
 * live page: `cut()` resets every connection and refuses new ones until `restore()`.
 */
interface Link {
  readonly url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

async function startLink(target: string): Promise<Link> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return void client.resetAndDestroy();
    const upstream = connect(Number(port), hostname);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut() {
      down = true;
      for (const s of open) s.resetAndDestroy();
      open.clear();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("dashboard in headless Chromium against an in-process devnet", function () {
  this.timeout(120_000);
  let dir: string;
  let devnet: Devnet | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let link: Link | undefined;
  let api: RelayerClient;
  let user: Map<string, LedgerAdapter>;
  /** Page-level problems: console errors, uncaught exceptions, failed or 4xx/5xx requests. */
  const problems: string[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`      skipped: no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; .ci/run installs it; or set ISTHMUS_CHROMIUM)`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), "isthmus-dashboard-"));
    devnet = await startDevnet({ dir: join(dir, "devnet"), consortiumBlockMs: 250, evmBlockMs: 1000, evmConfirmations: 1, pollMs: 100, log: silentLogger });
    const file = readDevnetFile(devnet.file);
    user = new Map(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet!.file)] as const)));
    api = new RelayerClient(file.api, 10_000, file.apiKey);
    link = await startLink(file.api);
    // A persistent context is how Playwright takes a fresh --user-data-dir of ours.
    context = await chromium.launchPersistentContext(join(dir, "profile"), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
  });

  after(async () => {
    await context?.close();
    await link?.close();
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    await devnet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Wait for `selector` on the page; on timeout, say what the relayer and the page showed for the swap. */
  async function waitOnPage(selector: string, timeoutMs: number, swapId?: string): Promise<void> {
    try {
      await page.locator(selector).waitFor({ timeout: timeoutMs });
    } catch (err) {
      const relayer = swapId ? await api.get<{ state: string; history: { to: string; note: string }[] }>(`/swaps/${swapId}`).catch((e: Error) => e.message) : null;
      const shown = swapId ? await page.locator(`tr[data-swap-id="${swapId}"]`).evaluateAll((rows) => rows.map((r) => `${r.closest("table")?.id}:${r.getAttribute("data-state")}`)) : null;
      const conn = await page.locator("#conn").innerText();
      throw new Error(`${(err as Error).message.split("\n")[0]}; relayer: ${JSON.stringify(relayer)}; page rows: ${JSON.stringify(shown)}; connection: ${conn}; problems: ${JSON.stringify(problems)}`);
    }
  }

  it("loads with all three chains (heights, lag, finality) and the relayer's balances", async () => {
    const res = await page.goto(link!.url + "/");
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), "Isthmus relayer");
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    for (const name of ["consortium", "evm", "fabric"]) {
      const row = page.locator(`#chains tr[data-chain="${name}"]`);
      await row.waitFor();
      const cells = await row.locator("td").allInnerTexts();
      assert.equal(cells[0], name);
      assert.match(cells[2]!, /^[\d,]+$/, `${name} head height`);
      assert.match(cells[3]!, /^[\d,]+$/, `${name} final height`);
      assert.match(cells[4]!, /^\d+ blk$/, `${name} lag`);
      assert.ok(cells[5]!.length > 5, `${name} finality rule`);
      assert.match(cells[6]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, `${name} chain time`);
    }
    assert.match((await page.locator('#chains tr[data-chain="evm"] td').nth(5).innerText()), /^1 confirmation$/);

    const balances = (await api.get<{ chain: string; asset: string; ok: boolean; amount: string }[]>("/balances")).filter((b) => b.ok);
    assert.equal(balances.length, 5, "ISTH and KRW on consortium, ETH and KRWT on evm, KRW on fabric");
    await page.locator("#balances tr[data-chain]").nth(4).waitFor();
    for (const b of balances) {
      const shown = await page.locator(`#balances tr[data-chain="${b.chain}"][data-asset="${b.asset}"] td`).nth(2).innerText();
      assert.equal(shown.replace(/,/g, ""), b.amount, `${b.chain} ${b.asset} balance in whole units`);
    }
    assert.equal(await page.locator('#balances tr[data-chain="consortium"][data-asset="KRW"] td').nth(2).innerText(), "100,000,000");
  });

  it("a swap made now appears in flight with its phase and time left, then moves to completed without a reload", async () => {
    const navigations: string[] = [];
    page.on("framenavigated", (f) => navigations.push(f.url()));
    const src = user.get("consortium")!;
    const dst = user.get("evm")!;
    // The user's steps one by one (what `isthmus swap` does), so the test can look at the
    // page between them; the relayer waits at "counter-locked" until the user claims.
    const { preimage, hashlock } = newSecret();
    const created = await api.post<{ id: string; relayerFrom: Hex }>("/swaps", { from: "consortium:KRW", to: "evm:KRWT", amount: "12.5", hashlock, userFrom: src.address, userTo: dst.address });
    const row = page.locator(`#inflight tr[data-swap-id="${created.id}"]`);
    await waitOnPage(`#inflight tr[data-swap-id="${created.id}"][data-state="awaiting_user_lock"]`, 15_000, created.id);
    let cells = await row.locator("td").allInnerTexts();
    assert.equal(cells[1], "consortium:KRW → evm:KRWT");
    assert.equal(cells[2], "12.5 KRW");
    assert.equal(cells[3], "12.5 KRWT");
    assert.equal(cells[4], "waiting for the user's lock");
    assert.match(cells[5]!, /^user must lock on consortium: \d+m \d+s left by \d\d:\d\d:\d\d UTC$/);

    const userTimelock = (await src.head()).finalizedTime + 900;
    await src.lock({ receiver: created.relayerFrom, asset: "KRW", amount: 1250n, hashlock, timelock: userTimelock });
    await waitOnPage(`#inflight tr[data-swap-id="${created.id}"][data-state="relayer_locked"]`, 45_000, created.id);
    cells = await row.locator("td").allInnerTexts();
    assert.equal(cells[4], "counter-locked; waiting for the user's claim");
    // Both deadlines, each in its own chain's time as the relayer sees it: the counter-lock
    // expires first (the relayer's margin), the user's lock after it.
    const lines = cells[5]!.split("\n");
    assert.equal(lines.length, 2, cells[5]);
    assert.match(lines[0]!, /^user must claim on evm: \d+m \d+s left/);
    assert.match(lines[1]!, /^relayer must claim on consortium: \d+m \d+s left/);
    const secondsLeft = (line: string) => {
      const m = /: (\d+)m (\d+)s left/.exec(line);
      assert.ok(m, `"${line}" shows minutes and seconds left`);
      return Number(m[1]) * 60 + Number(m[2]);
    };
    const userLeft = secondsLeft(lines[1]!);
    const counterLeft = secondsLeft(lines[0]!);
    assert.ok(userLeft > 840 && userLeft <= 900, `about 15 min of consortium time left on the user's lock: ${lines[1]}`);
    assert.ok(counterLeft < userLeft, `the counter-lock expires first: ${cells[5]}`);
    if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT.replace(/(\.png)?$/, "-inflight.png"), fullPage: true });

    const swap = await api.get<{ counterLock: { lockId: Hex } }>(`/swaps/${created.id}`);
    await dst.claim(swap.counterLock.lockId, preimage);
    await waitOnPage(`#recent tr[data-swap-id="${created.id}"][data-state="completed"]`, 45_000, created.id);
    assert.equal(await row.count(), 0, "it left the in-flight table");
    const done = await page.locator(`#recent tr[data-swap-id="${created.id}"] td`).allInnerTexts();
    assert.equal(done[2], "12.5 KRW");
    assert.equal(done[3], "12.5 KRWT");
    assert.equal(done[4], "completed");
    assert.deepEqual(navigations, [], "no reload or navigation happened");
    if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it("had no console errors, page errors or failed requests", () => {
    assert.deepEqual(problems, []);
  });

  it("shows 'reconnecting' when the stream drops and, once back, re-reads state so a change made meanwhile is not missed", async () => {
    const before = problems.length;
    link!.cut();
    await page.locator('#conn[data-state="reconnecting"]').waitFor({ timeout: 15_000 });
    assert.match(await page.locator("#conn").innerText(), /reconnecting/);
    if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT.replace(/(\.png)?$/, "-reconnecting.png"), fullPage: true });
    // While the page is cut off, a swap is registered: the page gets no event for it.
    const { hashlock } = newSecret();
    const created = await api.post<{ id: string }>("/swaps", {
      from: "evm:KRWT",
      to: "consortium:KRW",
      amount: "3",
      hashlock,
      userFrom: user.get("evm")!.address,
      userTo: user.get("consortium")!.address,
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await page.locator(`#inflight tr[data-swap-id="${created.id}"]`).count(), 0);
    link!.restore();
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 20_000 });
    await waitOnPage(`#inflight tr[data-swap-id="${created.id}"][data-state="awaiting_user_lock"]`, 10_000, created.id);
    // Only requests the cut broke may have failed: the stream and its retries, or a read
    // that happened to be under way (the browser logs those itself); nothing else.
    const during = problems.slice(before);
    const unexpected = during.filter((p) => !/net::ERR_(CONNECTION_RESET|CONNECTION_REFUSED|EMPTY_RESPONSE|CONNECTION_CLOSED)/.test(p));
    assert.deepEqual(unexpected, []);
    assert.ok(during.some((p) => /\/events\?heads=1/.test(p)), "the stream was among the requests cut");
    console.log(`      while cut: ${during.length} failed requests, as expected, e.g. ${during[0]}`);
  });
});
