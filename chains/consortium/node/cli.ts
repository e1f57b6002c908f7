/**
 * `isthmus node …`:
 *
 *   node init --home <dir> [--validators N] [--chain-id ID] [--base-port P] [--block-ms MS]
 *       writes keys, one genesis and configs (N = 1: <dir> is the home; N > 1: <dir>/node<i>,
 *       peers pointing at each other, validator i on ports P + 2i (peer) and P + 2i + 1 (API));
 *       prints the homes as JSON
 *   node init --home <dir> --genesis <genesis.json> --peers <host:port,…> [--base-port P] [--block-ms MS]
 *       a home that joins an existing network with a fresh key: a non-validator full node
 *       (follower) unless that key is in the genesis; peer port P, API port P + 1
 *   node init --home <dir> --join <127.0.0.1:port> [--base-port P] [--chain-id ID]
 *       a home for a node joining a running network: genesis, chain id, block interval and
 *       peers fetched from that node's peer port (GetNodeInfo), a fresh key; it follows as a
 *       full node, and once a bond of its key takes effect it validates and announces its
 *       endpoint (127.0.0.1:P) on chain so the validators dial it. Peer port P, API port P + 1
 *   node tx --home <dir> [--api <127.0.0.1:port>] bond <amount> | unbond <amount> |
 *       delegate <validator> <amount> | undelegate <validator> <amount> | endpoint <host:port>
 *       a staking tx signed with the home's key, submitted to the API (default the home's
 *       own) and waited for; prints {hash, height, ok}
 *   node --home <dir> [--devnet] [--clock-offset-ms MS] [--log-level debug|info|warn|error]
 *       runs the validator until SIGINT/SIGTERM; prints one JSON line
 *       {"event":"ready",…} on stdout once its peer and API ports listen; logs JSON lines on stderr.
 *       --devnet enables the DevnetAdmin service (clock offset, simulated partitions) on the
 *       127.0.0.1 peer port: for devnets and tests only.
 *
 * Shared by the `isthmus` CLI and node/main.ts (the entry point the devnet spawns).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { InvalidInputError, IsthmusError } from "../../errors.ts";
import { type ChainLogger } from "../log.ts";
import { readFileSync } from "node:fs";
import { type Genesis, type GenesisJson, genesisFromJson } from "../genesis.ts";
import { initNodeHomes, parseNodeConfig, writeNodeHome } from "./home.ts";
import { initJoiningHome } from "./join.ts";
import { runStakeTx } from "./stake-tx.ts";
import { startNode } from "./run.ts";
import { untilSignal } from "../../shutdown-signal.ts";

export { NODE_USAGE } from "./usage.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;
type Level = (typeof LEVELS)[number];

/** JSON lines on stderr at or above `level`. */
export function stderrLogger(level: Level, fields: Record<string, unknown> = {}): ChainLogger {
  const min = LEVELS.indexOf(level);
  const at = (l: Level) => (msg: string, f?: Record<string, unknown>) => {
    if (LEVELS.indexOf(l) < min) return;
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level: l, msg, ...fields, ...f }) + "\n");
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

function flags<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new InvalidInputError("arguments", (err as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

function intFlag(v: unknown, name: string, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  if (typeof v !== "string" || !/^-?\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new InvalidInputError(`--${name}`, `"${String(v)}" is not a whole number ≥ ${min}`);
  return Number(v);
}

/** `--genesis <file>`: a problem names the file and the flag (not a bare ENOENT or TypeError). */
export function readGenesisFile(file: string): Genesis {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InvalidInputError("--genesis", `cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError("--genesis", `${file} is not JSON: ${(err as Error).message}`);
  }
  try {
    return genesisFromJson(json as GenesisJson);
  } catch (err) {
    if (err instanceof IsthmusError) throw err;
    // A JSON file of another shape (devnet.json, a config) fails inside on a missing field.
    throw new InvalidInputError("--genesis", `${file} is not a consortium genesis.json (${(err as Error).message})`);
  }
}

/** Runs `isthmus node <argv>`; resolves after a clean shutdown (long-running) or once init is written. */
export async function runNodeCommand(argv: string[]): Promise<void> {
  if (argv[0] === "init") {
    const { values } = flags(argv.slice(1), {
      home: { type: "string" },
      validators: { type: "string" },
      "chain-id": { type: "string" },
      "base-port": { type: "string" },
      "block-ms": { type: "string" },
      genesis: { type: "string" },
      peers: { type: "string" },
      join: { type: "string" },
    });
    if (typeof values.home !== "string" || !values.home) throw new InvalidInputError("node init", "--home is required");
    if (values.join !== undefined) {
      if (values.genesis !== undefined || values.peers !== undefined || values.validators !== undefined) throw new InvalidInputError("node init", "--join fetches the genesis and peers: it does not go with --genesis, --peers or --validators");
      const res = await initJoiningHome({
        home: values.home,
        join: values.join,
        p2pPort: intFlag(values["base-port"], "base-port", 26650, 1024),
        ...(values["chain-id"] !== undefined ? { expectChainId: intFlag(values["chain-id"], "chain-id", 0, 1) } : {}),
      });
      process.stdout.write(JSON.stringify({ chainId: res.chainId, genesisValidatorsHash: res.genesisValidatorsHash, homes: [{ home: res.home, address: res.address, p2p: res.p2p, api: res.api }], peers: res.peers }, null, 2) + "\n");
      return;
    }
    if (values.genesis !== undefined || values.peers !== undefined) {
      if (typeof values.genesis !== "string" || typeof values.peers !== "string") throw new InvalidInputError("node init", "--genesis and --peers go together");
      const base = intFlag(values["base-port"], "base-port", 26650, 1024);
      const genesis = readGenesisFile(values.genesis);
      const blockIntervalMs = intFlag(values["block-ms"], "block-ms", 1000, 1);
      const config = parseNodeConfig({ p2pPort: base, apiPort: base + 1, peers: values.peers.split(",").map((p) => p.trim()).filter(Boolean), blockIntervalMs });
      const { address } = writeNodeHome(values.home, { genesis, config });
      process.stdout.write(JSON.stringify({ chainId: genesis.chainId, homes: [{ home: values.home, address, p2p: `127.0.0.1:${base}`, api: `127.0.0.1:${base + 1}` }] }, null, 2) + "\n");
      return;
    }
    const res = initNodeHomes({
      dir: values.home,
      validators: intFlag(values.validators, "validators", 1, 1),
      chainId: intFlag(values["chain-id"], "chain-id", 7770, 1),
      basePort: intFlag(values["base-port"], "base-port", 26650, 1024),
      blockIntervalMs: intFlag(values["block-ms"], "block-ms", 1000, 1),
    });
    process.stdout.write(JSON.stringify(res, null, 2) + "\n");
    return;
  }
  if (argv[0] === "tx") {
    const { values, positionals } = flags(argv.slice(1), { home: { type: "string" }, api: { type: "string" } });
    if (typeof values.home !== "string" || !values.home) throw new InvalidInputError("node tx", "--home is required (its key signs)");
    const res = await runStakeTx({ home: values.home, args: positionals, ...(typeof values.api === "string" ? { api: values.api } : {}) });
    process.stdout.write(JSON.stringify(res) + "\n");
    return;
  }
  const { values, positionals } = flags(argv, {
    home: { type: "string" },
    devnet: { type: "boolean" },
    "clock-offset-ms": { type: "string" },
    "log-level": { type: "string" },
  });
  if (positionals.length > 0) throw new InvalidInputError("node", `unknown subcommand "${positionals[0]}" (expected init, tx, or flags only)`);
  if (typeof values.home !== "string" || !values.home) throw new InvalidInputError("node", "--home is required");
  const level = (values["log-level"] ?? "info") as Level;
  if (!LEVELS.includes(level)) throw new InvalidInputError("--log-level", `expected one of ${LEVELS.join(", ")}`);
  const log = stderrLogger(level);
  const node = await startNode({ home: values.home, devnet: values.devnet === true, clockOffsetMs: intFlag(values["clock-offset-ms"], "clock-offset-ms", 0), log });
  process.stdout.write(JSON.stringify({ event: "ready", role: node.role, address: node.address, chainId: node.chainId, p2p: node.p2pEndpoint, api: node.apiEndpoint, height: node.node.chain.height, synced: node.synced, pid: process.pid }) + "\n");
  await untilSignal();
  log.info("stopping", { height: node.node.chain.height });
  await node.stop();
}
