/**
 * Runs a local `hardhat node` (Hardhat 2) as a child process for the devnet and tests.
 *
 * The child is `node [watchdog] node_modules/hardhat/internal/cli/bootstrap.js node ...`
 * started directly, not through npx, so its pid is the JSON-RPC server itself and stop()
 * kills the right process. A preloaded watchdog makes it exit when this process dies.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HDNodeWallet } from "ethers";
import { InvalidInputError, IsthmusError } from "../errors.ts";
import type { Hex } from "../ledger.ts";

export interface StartHardhatNodeOptions {
  /** TCP port on 127.0.0.1; 0 (default) lets the OS pick a free one. */
  readonly port?: number;
  /** Default 31337. */
  readonly chainId?: number;
  /**
   * Interval mining period on top of automine (transactions always mine at once); idle
   * blocks keep block.timestamp moving and confirmations growing. 0 = automine only.
   * Default 1000.
   */
  readonly blockIntervalMs?: number;
  /** Hardhat's XDG config/data/cache root, so nothing lands in $HOME. Default `<repo>/.isthmus/hardhat`. */
  readonly stateDir?: string;
  /** Default 30000. */
  readonly startTimeoutMs?: number;
}

export interface HardhatNode {
  readonly url: string;
  readonly port: number;
  readonly chainId: number;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

/** Error code for a node that did not come up; details carry the child's output tails. */
export const NODE_START_FAILED = "EVM_NODE_START_FAILED";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const WATCHDOG = path.join(REPO_ROOT, "chains/evm/parent-watchdog.cjs");
const CONFIG = path.join(REPO_ROOT, "hardhat.config.cjs");
const READY_LINE = /Started HTTP and WebSocket JSON-RPC server at http:\/\/127\.0\.0\.1:(\d+)\//;
const TAIL_CHARS = 4000;
const STOP_GRACE_MS = 5000;

function hardhatBootstrapPath(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve("hardhat/package.json")), "internal/cli/bootstrap.js");
}

/** Keeps the last `TAIL_CHARS` characters of a stream (we must drain the pipes anyway). */
class Tail {
  private text = "";
  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-TAIL_CHARS);
  }
  toString(): string {
    return this.text;
  }
}

/** Starts `hardhat node` on 127.0.0.1 and resolves once it answers JSON-RPC. */
export async function startHardhatNode(opts: StartHardhatNodeOptions = {}): Promise<HardhatNode> {
  const port = opts.port ?? 0;
  const chainId = opts.chainId ?? 31337;
  const blockIntervalMs = opts.blockIntervalMs ?? 1000;
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const stateDir = path.resolve(opts.stateDir ?? path.join(REPO_ROOT, ".isthmus/hardhat"));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInputError("port", `must be 0..65535, got ${port}`);
  if (!Number.isSafeInteger(chainId) || chainId <= 0) throw new InvalidInputError("chainId", `must be a positive integer, got ${chainId}`);
  if (!Number.isInteger(blockIntervalMs) || blockIntervalMs < 0) {
    throw new InvalidInputError("blockIntervalMs", `must be a non-negative integer, got ${blockIntervalMs}`);
  }

  const xdg = { XDG_CONFIG_HOME: "config", XDG_DATA_HOME: "data", XDG_CACHE_HOME: "cache" };
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, sub] of Object.entries(xdg)) {
    env[name] = path.join(stateDir, sub);
    mkdirSync(env[name]!, { recursive: true });
  }
  delete env.HARDHAT_NETWORK; // the node task must serve the in-process "hardhat" network
  Object.assign(env, {
    ISTHMUS_EVM_CHAIN_ID: String(chainId),
    ISTHMUS_EVM_INTERVAL_MINING: blockIntervalMs > 0 ? "1" : "0",
    ISTHMUS_EVM_BLOCK_MS: String(blockIntervalMs),
    HARDHAT_DISABLE_TELEMETRY_PROMPT: "true",
    NO_COLOR: "1", // plain text, so the ready line parses
  });

  const child = spawn(
    process.execPath,
    ["--require", WATCHDOG, hardhatBootstrapPath(), "node", "--config", CONFIG, "--hostname", "127.0.0.1", "--port", String(port)],
    { cwd: REPO_ROOT, env, stdio: ["pipe", "pipe", "pipe"] },
  );
  const stdout = new Tail();
  const stderr = new Tail();
  child.stdout!.setEncoding("utf8").on("data", (s: string) => stdout.push(s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => stderr.push(s));

  let exited = false;
  let spawnError: Error | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    const done = (): void => {
      exited = true;
      process.removeListener("exit", killOnParentExit);
      resolve();
    };
    child.once("exit", done);
    // A process that never started emits 'error' and no 'exit'.
    child.once("error", (err) => {
      spawnError = err;
      if (child.pid === undefined) done();
    });
  });
  // Belt and braces with the watchdog: an orderly parent exit kills the child synchronously.
  function killOnParentExit(): void {
    if (!exited) child.kill("SIGKILL");
  }
  process.on("exit", killOnParentExit);

  const fail = (message: string, cause?: unknown): IsthmusError =>
    new IsthmusError(
      NODE_START_FAILED,
      `hardhat node ${message}${summarize(stderr.toString())}`,
      { port, chainId, exitCode: child.exitCode, signal: child.signalCode, stderrTail: stderr.toString(), stdoutTail: stdout.toString() },
      { cause },
    );

  async function stop(): Promise<void> {
    if (exited) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (!exited) child.kill("SIGKILL");
    }, STOP_GRACE_MS);
    await exitedPromise;
    clearTimeout(timer);
  }

  try {
    const actualPort = await waitForReadyLine(child, exitedPromise, () => spawnError, startTimeoutMs, fail);
    const url = `http://127.0.0.1:${actualPort}`;
    const answered = await rpc(url, "eth_chainId", []);
    if (Number(answered) !== chainId) throw fail(`answers chainId ${Number(answered)}, expected ${chainId}`);
    // Request logging costs ~20% throughput and fills the pipe we drain.
    await rpc(url, "hardhat_setLoggingEnabled", [false]);
    return { url, port: actualPort, chainId, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    if (err instanceof IsthmusError && err.code === NODE_START_FAILED) throw err;
    throw fail(`did not start: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** The line of the child's stderr most likely to say what went wrong, as a message suffix. */
function summarize(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => /error/i.test(l)) ?? lines.at(-1);
  return line ? `: ${line}` : "";
}

function waitForReadyLine(
  child: ChildProcess,
  exited: Promise<void>,
  spawnError: () => Error | undefined,
  timeoutMs: number,
  fail: (message: string) => IsthmusError,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(fail(`did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    // Scan each chunk plus a short carry: a line may straddle chunks, and the account list
    // printed right after the ready line can push it out of the Tail within one chunk.
    let carry = "";
    const onData = (chunk: string): void => {
      const text = carry + chunk;
      const m = READY_LINE.exec(text);
      if (m) {
        cleanup();
        resolve(Number(m[1]));
      }
      carry = text.slice(-200);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout!.removeListener("data", onData);
    };
    child.stdout!.on("data", onData);
    void exited.then(() => {
      cleanup();
      // 'exit' can precede the last stdio chunks; give them a tick so the tail is complete.
      const err = spawnError();
      const why = err ? `could not be started (${err.message})` : `exited (code ${child.exitCode}, signal ${child.signalCode})`;
      setTimeout(() => reject(fail(`${why} before answering JSON-RPC`)), 50);
    });
  });
}

async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message?: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message ?? JSON.stringify(body.error)}`);
  return body.result;
}

/** The mnemonic behind Hardhat's default accounts (public knowledge: devnet only). */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

let hardhatRoot: HDNodeWallet | undefined;

/** Hardhat default account `index` (m/44'/60'/0'/0/index), each funded with 10000 ETH at genesis. */
export function hardhatAccount(index: number): { readonly address: Hex; readonly privateKey: Hex } {
  if (!Number.isInteger(index) || index < 0 || index >= 20) {
    throw new InvalidInputError("index", `hardhat funds accounts 0..19, got ${index}`);
  }
  hardhatRoot ??= HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, "m/44'/60'/0'/0");
  const w = hardhatRoot.deriveChild(index);
  return { address: w.address.toLowerCase() as Hex, privateKey: w.privateKey as Hex };
}
