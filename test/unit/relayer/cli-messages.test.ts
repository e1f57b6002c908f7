/**
 * What a newcomer sees from the CLI on the first wrong try: each message names the problem
 * and the way out (found by following the README on a fresh clone).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DevnetFileError, readDevnet } from "../../../sdk/devnet.ts";

const VECTORS = "test/vectors/evm";

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/isthmus.js", ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("CLI messages on a newcomer's first tries", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "isthmus-cli-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("proof verify on a saved GET /swaps/{id}/proofs answer, or one entry of it, says how to take the bundle out", async () => {
    const bundle = JSON.parse(readFileSync(join(VECTORS, "bundle-claimed-lock.json"), "utf8")) as unknown;
    const entry = { seq: 2, role: "counter-lock-claimed", chain: "evm", lockId: "0x00", kind: "evm-htlc-lock", bundle };
    const answer = join(dir, "proofs.json");
    const one = join(dir, "entry.json");
    writeFileSync(answer, JSON.stringify({ swap: "c90a94a2d4d3afa11fe2fc0c", proofs: [entry] }));
    writeFileSync(one, JSON.stringify(entry));

    const a = await cli(["proof", "verify", answer]);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /is a GET \/swaps\/\{id\}\/proofs answer with 1 bundle\(s\), not one bundle/);
    assert.match(a.stderr, /jq '\.proofs\[0\]\.bundle'/);
    assert.match(a.stderr, /\.proofs\[0\]\.bundle \(counter-lock-claimed\)/);
    assert.match(a.stderr, /\[INVALID_INPUT\]/);

    const e = await cli(["proof", "verify", one]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /is one entry of a GET \/swaps\/\{id\}\/proofs answer; verify its bundle: jq '\.bundle'/);

    // The bundle itself, taken out as the message says, still verifies.
    const taken = join(dir, "bundle.json");
    writeFileSync(taken, JSON.stringify(entry.bundle));
    const ok = await cli(["proof", "verify", taken, "--trust", join(VECTORS, "anchor-head.json")]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /is claimed on evm/);
  });

  it("config validate names the config path of a keystore it cannot read, like every other key problem", async () => {
    const r = await cli(["config", "validate", "relayer/relayer.example.yaml"], { ISTHMUS_CONSORTIUM_KEY: "" });
    assert.equal(r.code, 0, r.stderr);
    const { warnings } = JSON.parse(r.stdout) as { warnings: string[] };
    const keystore = warnings.find((w) => w.includes("/etc/isthmus/keys/relayer.json"));
    assert.ok(keystore, `no keystore warning in ${JSON.stringify(warnings)}`);
    assert.match(keystore, /^relayer\/relayer\.example\.yaml: chains\.evm: key\.keystore: \/etc\/isthmus\/keys\/relayer\.json: cannot read/);
    const env = warnings.find((w) => w.includes("ISTHMUS_CONSORTIUM_KEY"));
    assert.ok(env);
    assert.match(env, /^relayer\/relayer\.example\.yaml: chains\.consortium: key\.env:/, "a ConfigError is not prefixed twice");
  });

  it("a missing devnet file (e.g. a command run from a subfolder) says where it is looked for and how to point elsewhere", async () => {
    const home = join(dir, "elsewhere");
    const r = await cli(["status"], { ISTHMUS_HOME: home });
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`${join(home, "devnet.json")}: not found: start the devnet first with \`npm start\`, and run this from the folder it was started in (or pass --devnet <file>, or set ISTHMUS_HOME) [DEVNET_FILE]`), r.stderr);
    // The SDK's reader (examples, dApps) says the same.
    assert.throws(() => readDevnet(join(home, "devnet.json")), (e: unknown) => e instanceof DevnetFileError && /not found: start the devnet first with `npm start`, and run this from the folder it was started in \(or pass the file's path, or set ISTHMUS_HOME\)$/.test(e.message));
  });

  it("swaps list --route cut short by the shell's > redirect says to quote the route", async () => {
    const r = await cli(["swaps", "list", "--route", "consortium:KRW-", "--api", "http://127.0.0.1:1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--route: "consortium:KRW-" is not <chain:ASSET>-><chain:ASSET>; unquoted, the shell reads ">" as a redirect .*quote it, --route 'consortium:KRW->evm:KRWT'/);
    const other = await cli(["swaps", "list", "--route", "fabric:KRW", "--api", "http://127.0.0.1:1"]);
    assert.doesNotMatch(other.stderr, /redirect/, "only a value the shell cut at > gets the hint");
  });

  it("swaps and relayer without a subcommand say one is needed instead of naming an empty one", async () => {
    for (const [cmd, subs] of [
      ["swaps", "list, show"],
      ["relayer", "start, status"],
    ] as const) {
      const r = await cli([cmd]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`isthmus ${cmd}: ${cmd}: needs a subcommand \\(${subs}\\); see isthmus --help`));
      const bad = await cli([cmd, "lst"]);
      assert.match(bad.stderr, new RegExp(`unknown subcommand "lst" \\(${subs}\\)`));
    }
  });

  it("balance / refund with the devnet down name the node that does not answer and suggest npm start, not gRPC's resolution note", async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const devnet = join(dir, "devnet.json");
    const validators = [{ address: "0x" + "11".repeat(20), stake: "100" }];
    const key = { hex: "0x" + "4c".repeat(32) };
    writeFileSync(devnet, JSON.stringify({ api: "http://127.0.0.1:1", chains: { consortium: { kind: "consortium", endpoint: `127.0.0.1:${port}`, chainId: 7770, blockTimeSec: 1, clockSkewSec: 2, validators, key } } }));
    for (const args of [["balance"], ["refund", "--chain", "consortium", "--lock", "0x" + "ab".repeat(32)]]) {
      const r = await cli([...args, "--devnet", devnet]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`consortium: the node at 127\\.0\\.0\\.1:${port} \\(from .*devnet\\.json\\) does not answer \\(is the devnet running\\? try npm start\\) \\[RPC_FAILED\\]`));
      assert.doesNotMatch(r.stderr, /Resolution note/);
    }
  });
});
