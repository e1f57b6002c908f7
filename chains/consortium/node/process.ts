/**
 * One consortium node as a child OS process (`node --import tsx node/main.ts --home …`),
 * for the devnet and tests. The child loads chains/evm/parent-watchdog.cjs (node/main.ts,
 * ISTHMUS_PARENT_WATCHDOG=1), so it exits when this process dies however it dies (its stdin
 * pipe closes); an orderly exit of this process also SIGKILLs it. `kill()` is a real SIGKILL (the durability tests use it);
 * `start()` again reuses the same home, ports and SQLite file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { type Hex } from "../../../proofs/hex.ts";
import { IsthmusError } from "../../errors.ts";
import { type ChainLogger, quietLogger } from "../log.ts";
import { peerServices } from "../net/peer-wire.ts";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const NODE_MAIN = join(REPO_ROOT, "chains/consortium/node/main.ts");
const TAIL_CHARS = 4000;
const STOP_GRACE_MS = 5000;
const ADMIN_DEADLINE_MS = 5000;

export const NODE_PROCESS_FAILED = "CONSORTIUM_NODE_PROCESS_FAILED";

export interface NodeProcessOptions {
  readonly home: string;
  /** Enables DevnetAdmin on the child's peer port (required for setClockOffset / setBlockedPeers). */
  readonly devnet: boolean;
  /** Read at each (re)start: the clock offset the child starts with. */
  readonly clockOffsetMs?: () => number;
  /** The child's log level (its JSON lines are forwarded to `log`, warnings and errors as such). */
  readonly logLevel?: "debug" | "info" | "warn" | "error";
  readonly log?: ChainLogger;
  readonly startTimeoutMs?: number;
}

interface Ready {
  readonly address: Hex;
  readonly p2p: string;
  readonly api: string;
  readonly height: number;
  readonly pid: number;
}

type Unary = (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

export class NodeProcess {
  readonly home: string;
  readonly #o: NodeProcessOptions;
  readonly #log: ChainLogger;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #ready: Ready | null = null;
  #admin: (grpc.Client & Record<string, Unary>) | null = null;
  #stderrTail = "";

  private constructor(o: NodeProcessOptions) {
    this.home = o.home;
    this.#o = o;
    this.#log = o.log ?? quietLogger;
  }

  static async start(o: NodeProcessOptions): Promise<NodeProcess> {
    const p = new NodeProcess(o);
    await p.start();
    return p;
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get address(): Hex {
    return this.ready().address;
  }

  /** "127.0.0.1:<port>" of its peer server. */
  get p2pEndpoint(): string {
    return this.ready().p2p;
  }

  /** "127.0.0.1:<port>" of its node API. */
  get apiEndpoint(): string {
    return this.ready().api;
  }

  /** Spawns the child and resolves once it printed its ready line. */
  async start(): Promise<void> {
    if (this.running) return;
    // A larger young generation: a validator allocates per tx (decoding, execution, roots) and
    // the default 16 MB semi-space made scavenges ~15 % of its CPU; 32 MB measured ~5-8 % less CPU per tx.
    const args = ["--max-semi-space-size=32", "--import", "tsx", NODE_MAIN, "--home", this.home, "--log-level", this.#o.logLevel ?? "info"];
    // CPU profiles of each child for benchmarks (NODE_OPTIONS may not carry --cpu-prof); written at a clean exit.
    const profileDir = process.env.ISTHMUS_NODE_CPU_PROFILE_DIR;
    if (profileDir) args.unshift("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
    if (this.#o.devnet) args.push("--devnet", "--clock-offset-ms", String(Math.floor(this.#o.clockOffsetMs?.() ?? 0)));
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ISTHMUS_PARENT_WATCHDOG: "1" }, stdio: ["pipe", "pipe", "pipe"] });
    this.#child = child;
    this.#stderrTail = "";
    const killOnParentExit = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    };
    process.on("exit", killOnParentExit);
    this.#exited = new Promise<void>((res) => {
      child.once("exit", () => {
        process.removeListener("exit", killOnParentExit);
        res();
      });
      child.once("error", () => {
        if (child.pid === undefined) res();
      });
    });
    child.stderr!.setEncoding("utf8");
    let partial = "";
    child.stderr!.on("data", (s: string) => {
      this.#stderrTail = (this.#stderrTail + s).slice(-TAIL_CHARS);
      partial += s;
      const lines = partial.split("\n");
      partial = lines.pop()!;
      for (const line of lines) this.forward(line);
    });
    const ready = await new Promise<Ready>((res, rej) => {
      let out = "";
      const timer = setTimeout(() => rej(this.fail(`did not report ready within ${this.#o.startTimeoutMs ?? 60_000} ms`)), this.#o.startTimeoutMs ?? 60_000);
      child.stdout!.setEncoding("utf8").on("data", (s: string) => {
        out += s;
        const line = out.split("\n").find((l) => l.startsWith('{"event":"ready"'));
        if (!line) return;
        clearTimeout(timer);
        res(JSON.parse(line) as Ready);
      });
      void this.#exited.then(() => {
        clearTimeout(timer);
        rej(this.fail("exited before it was ready"));
      });
    }).catch(async (err: unknown) => {
      await this.kill();
      throw err;
    });
    this.#ready = ready;
    if (this.#o.devnet && !this.#admin) {
      this.#admin = new (peerServices().DevnetAdmin)(ready.p2p, grpc.credentials.createInsecure(), { "grpc.max_reconnect_backoff_ms": 500 }) as unknown as grpc.Client & Record<string, Unary>;
    }
  }

  /** SIGKILL (the durability tests' crash) and wait for the exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.running) this.#child!.kill(signal);
    await this.#exited;
  }

  /** SIGTERM (clean shutdown), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.#child!.kill("SIGTERM");
    const t = setTimeout(() => {
      if (this.running) this.#child!.kill("SIGKILL");
    }, STOP_GRACE_MS);
    await this.#exited;
    clearTimeout(t);
  }

  /** Final: stops the child and closes the admin channel. */
  async close(): Promise<void> {
    await this.stop();
    this.#admin?.close();
    this.#admin = null;
  }

  /** DEVNET: moves the child's clock offset up to `offsetMs` (never down); returns its offset. */
  async setClockOffset(offsetMs: number): Promise<number> {
    const r = (await this.adminCall("setClockOffset", { offsetMs: Math.floor(offsetMs) })) as { offsetMs: number };
    return Number(r.offsetMs);
  }

  /** DEVNET: drops the child's messages to these peer endpoints; [] heals. */
  async setBlockedPeers(endpoints: readonly string[]): Promise<void> {
    await this.adminCall("setBlockedPeers", { endpoints });
  }

  private adminCall(method: string, req: object): Promise<unknown> {
    const admin = this.#admin;
    if (!admin || !this.running) return Promise.reject(this.fail(`is not running (admin ${method})`));
    return new Promise((res, rej) =>
      admin[method]!(req, { deadline: Date.now() + ADMIN_DEADLINE_MS }, (err, r) => (err ? rej(new IsthmusError(NODE_PROCESS_FAILED, `consortium node ${this.home}: ${method}: ${err.message}`, { home: this.home }, { cause: err })) : res(r))),
    );
  }

  private ready(): Ready {
    if (!this.#ready) throw this.fail("has not started");
    return this.#ready;
  }

  private forward(line: string): void {
    if (!line.trim()) return;
    let rec: { level?: string; msg?: string; [k: string]: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      this.#log.debug("consortium node output", { home: this.home, line });
      return;
    }
    const { level, msg, t: _t, ...fields } = rec;
    const f = { node: this.#ready?.address ?? this.home, ...fields };
    if (level === "error") this.#log.error(String(msg), f);
    else if (level === "warn") this.#log.warn(String(msg), f);
    else this.#log.debug(String(msg), f);
  }

  private fail(problem: string): IsthmusError {
    const lines = this.#stderrTail.split("\n").filter(Boolean);
    const last = lines.reverse().find((l) => /error/i.test(l)) ?? lines[0] ?? "";
    return new IsthmusError(NODE_PROCESS_FAILED, `consortium node ${this.home} ${problem}${last ? `: ${last}` : ""}`, {
      home: this.home,
      exitCode: this.#child?.exitCode,
      signal: this.#child?.signalCode,
      stderrTail: this.#stderrTail,
    });
  }
}
