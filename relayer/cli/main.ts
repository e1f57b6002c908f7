import { errorMessage, InvalidInputError, IsthmusError, LedgerError } from "../../chains/errors.ts";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { toPlainJson } from "../core/codec.ts";
import { formatAmount } from "../core/amount.ts";
import { parseAssetRef } from "../core/route.ts";
import { ConfigError, loadConfig, resolveKey } from "../config.ts";
import { defaultDevnetFile, readDevnetFile } from "../devnet-file.ts";
import { openLedger } from "../ledgers.ts";
import { runSwap } from "../../sdk/run-swap.ts";
import { FileSwapStore } from "../../sdk/file-store.ts";
import { recover } from "../../sdk/swap.ts";
import { parseFlags, positiveInt, required } from "./args.ts";
import { interruptedSwap } from "./interrupted.ts";
import { PROOF_USAGE, proofCommand } from "./proof.ts";
import { RELAYER_USAGE, relayerCommand, swapsCommand } from "./relayer.ts";
import { dirname, join } from "node:path";
import { NODE_USAGE } from "../../chains/consortium/node/usage.ts";

const USAGE = `usage: isthmus <command> [flags]

  swap --from <chain:ASSET> --to <chain:ASSET> --amount <n> [--timelock <sec>] [--devnet <file>]
      act as a dApp user of the running devnet: lock, wait for the relayer's counter-lock,
      verify it on chain, claim; prints one JSON object
  recover [--devnet <file>] [--timeout <sec>]
      finish every open swap \`swap\` left behind (crash, Ctrl-C): claim a verified counter-lock,
      refund a lock whose timelock passed, say when the rest become refundable; prints JSON
  status [--devnet <file> | --api <url>]
      the daemon's view: chains with final heights, swaps by state
  refund --chain <name> --lock <lockId> [--devnet <file>]
      refund one of the demo user's locks after its timelock
  balance [--devnet <file>]
      the demo user's and the relayer's balances on every chain, in whole units
  daemon --config <file.yaml>
      run the relayer daemon against running chains
${RELAYER_USAGE}
  devnet
      start the embedded devnet and the relayer (same as npm start)
  config validate <file.yaml>
      check a relayer config; prints its chains and routes, or the first problem
  apikey new
      print a fresh API key for a tenant and the keySha256 to put under api.tenants
  keys new [--out <file>] [--password-env NAME | --password-file F]
  keys import (--key-env NAME | --key-file F) [--out <file>] [--password-env NAME | --password-file F]
  keys list [--dir <dir>]
      encrypted keystore files (scrypt) for chains.<name>.key.keystore; without a password
      flag the password is asked for; default folder .isthmus/keys
${PROOF_USAGE}
${NODE_USAGE}`;

type Out = (value: unknown) => void;
const print: Out = (v) => process.stdout.write(JSON.stringify(toPlainJson(v), null, 2) + "\n");

/** gRPC's "No connection established … Resolution note:" says nothing to a dApp user; the status command's hint does. */
function unreachableHint(err: unknown, chain: string, devnetFile: string): unknown {
  if (!(err instanceof LedgerError) || err.details.grpcCode !== GRPC_UNAVAILABLE) return err;
  const endpoint = String(err.details.endpoint ?? "its endpoint");
  return new LedgerError(chain, err.code, `the node at ${endpoint} (from ${devnetFile}) does not answer (is the devnet running? try npm start)`, err.details, { cause: err });
}
const GRPC_UNAVAILABLE = 14;

async function withUserLedgers<T>(devnetPath: string | undefined, names: string[], fn: (l: Map<string, LedgerAdapter>, api: RelayerClient, file: string) => Promise<T>): Promise<T> {
  const file = devnetPath ?? defaultDevnetFile();
  const devnet = readDevnetFile(file);
  const ledgers = new Map<string, LedgerAdapter>();
  try {
    for (const name of names) {
      const chain = devnet.chainConfigs.find((c) => c.name === name);
      if (!chain) throw new InvalidInputError("chain", `unknown chain "${name}" (devnet has ${devnet.chainConfigs.map((c) => c.name).join(", ")})`);
      ledgers.set(name, await openLedger(chain, file).catch((err: unknown) => Promise.reject(unreachableHint(err, name, file))));
    }
    return await fn(ledgers, new RelayerClient(devnet.api, 10_000, devnet.apiKey), file);
  } finally {
    await Promise.all([...ledgers.values()].map((l) => l.close()));
  }
}

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  async swap(argv) {
    const { values } = parseFlags(argv, { from: { type: "string" }, to: { type: "string" }, amount: { type: "string" }, timelock: { type: "string" }, devnet: { type: "string" } }, "swap");
    const from = parseAssetRef(required(values.from, "from", "swap"), "--from");
    const to = parseAssetRef(required(values.to, "to", "swap"), "--to");
    const amount = required(values.amount, "amount", "swap");
    const timelockSec = positiveInt(values.timelock, "timelock");
    await withUserLedgers(values.devnet, [from.chain, to.chain], async (ledgers, relayer, file) => {
      // Ctrl-C must not leave the user guessing: say where the lock and secret are, from the
      // swap's record (written before the lock is sent), not from what this process saw.
      let created: { swapId: string; secretFile: string } | null = null;
      process.once("SIGINT", () => {
        process.stderr.write(`isthmus swap: interrupted; ${interruptedSwap(created)}\n`);
        process.exit(130);
      });
      const result = await runSwap({
        onCreated: (info) => (created = info),
        relayer,
        source: ledgers.get(from.chain)!,
        dest: ledgers.get(to.chain)!,
        fromAsset: from.asset,
        toAsset: to.asset,
        amount,
        ...(timelockSec ? { timelockSec } : {}),
        secretDir: join(dirname(file), "secrets"),
      }).catch((err: unknown) => {
        // The SDK names its own parameter; a CLI user typed --timelock.
        if (err instanceof InvalidInputError && err.details.what === "timelockSec") {
          throw new InvalidInputError("--timelock", err.message.replace(/^timelockSec: /, ""), err.details);
        }
        throw err;
      });
      print(result);
    });
  },

  async recover(argv) {
    const { values } = parseFlags(argv, { devnet: { type: "string" }, timeout: { type: "string" } }, "recover");
    const timeoutSec = positiveInt(values.timeout, "timeout") ?? 60;
    const file = values.devnet ?? defaultDevnetFile();
    const names = readDevnetFile(file).chainConfigs.map((c) => c.name);
    await withUserLedgers(file, names, async (ledgers, relayer) => {
      const store = new FileSwapStore(join(dirname(file), "secrets"));
      print(await recover({ relayer, ledgers, store, pollMs: 250 }, { timeoutMs: timeoutSec * 1000 }));
    });
  },

  async status(argv) {
    const { values } = parseFlags(argv, { devnet: { type: "string" }, api: { type: "string" } }, "status");
    const api = values.api ?? readDevnetFile(values.devnet ?? defaultDevnetFile()).api;
    print(await new RelayerClient(api, 5000).get("/status"));
  },

  async refund(argv) {
    const { values } = parseFlags(argv, { chain: { type: "string" }, lock: { type: "string" }, devnet: { type: "string" } }, "refund");
    const chain = required(values.chain, "chain", "refund");
    const lockId = required(values.lock, "lock", "refund").toLowerCase();
    if (!/^0x[0-9a-f]{64}$/.test(lockId)) throw new InvalidInputError("--lock", "must be a 32-byte 0x-hex lock id");
    await withUserLedgers(values.devnet, [chain], async (ledgers) => {
      const ledger = ledgers.get(chain)!;
      const found = await ledger.getLock(lockId as Hex);
      if (!found) throw new InvalidInputError("--lock", `no lock ${lockId} on ${chain}`);
      if (found.lock.status !== "locked") throw new InvalidInputError("--lock", `lock is already ${found.lock.status}`);
      const head = await ledger.head();
      if (head.finalizedTime < found.lock.timelock) {
        throw new InvalidInputError("--lock", `not refundable until chain time ${found.lock.timelock} (now ${head.finalizedTime}, ${found.lock.timelock - head.finalizedTime}s to go)`);
      }
      const res = await ledger.refund(lockId as Hex);
      await ledger.waitFinal(res.height);
      const decimals = ledger.asset(found.lock.asset).decimals;
      print({ chain, lockId, refundTxId: res.txId, amount: formatAmount(found.lock.amount, decimals), asset: found.lock.asset });
    });
  },

  async balance(argv) {
    const { values } = parseFlags(argv, { devnet: { type: "string" } }, "balance");
    const file = values.devnet ?? defaultDevnetFile();
    const devnet = readDevnetFile(file);
    await withUserLedgers(file, devnet.chainConfigs.map((c) => c.name), async (ledgers) => {
      const out: Record<string, Record<string, Record<string, string>>> = {};
      for (const [name, l] of ledgers) {
        out[name] = { user: {}, relayer: {} };
        for (const a of l.assets()) {
          out[name]!.user![a.symbol] = formatAmount(await l.balance(a.symbol), a.decimals);
          out[name]!.relayer![a.symbol] = formatAmount(await l.balance(a.symbol, devnet.relayerOn?.[name] ?? devnet.relayer.address), a.decimals);
        }
      }
      print(out);
    });
  },

  async daemon(argv) {
    const { values } = parseFlags(argv, { config: { type: "string" } }, "daemon");
    const { runDaemon } = await import("../main/daemon.ts");
    await runDaemon(loadConfig(required(values.config, "config", "daemon")));
  },

  relayer: (argv) => relayerCommand(argv, print),

  swaps: (argv) => swapsCommand(argv, print),

  async devnet() {
    const { runDevnet } = await import("../main/start.ts");
    await runDevnet();
  },

  async node(argv) {
    const { runNodeCommand } = await import("../../chains/consortium/node/cli.ts");
    await runNodeCommand(argv);
  },

  async keys(argv) {
    const { keysCommand } = await import("./keys.ts");
    print(await keysCommand(argv));
  },

  async apikey(argv) {
    if (argv[0] !== "new" || argv.length !== 1) throw new InvalidInputError("apikey", "usage: isthmus apikey new");
    const { newApiKey } = await import("../api/auth.ts");
    const { key, keySha256 } = newApiKey();
    print({ key, keySha256, note: "give the key to the tenant; put only keySha256 in the config under api.tenants" });
  },

  async config(argv) {
    const [sub, file] = argv;
    if (sub !== "validate" || !file) throw new InvalidInputError("config", "usage: isthmus config validate <file.yaml>");
    const cfg = loadConfig(file);
    const warnings: string[] = [];
    for (const c of cfg.chains) {
      if (c.kind === "fabric") continue; // an identity directory, checked when the daemon opens it
      if ("signer" in c.key) continue; // an external signer, asked for its key when the daemon starts
      try {
        resolveKey(c.key, `${file}: chains.${c.name}`);
      } catch (err) {
        // A ConfigError already names the file and chain; a KeystoreError names only the keystore file.
        const where = err instanceof ConfigError ? "" : `${file}: chains.${c.name}: key.keystore: `;
        warnings.push(`${where}${errorMessage(err)} (the daemon will refuse to start here)`);
      }
    }
    print({ ok: true, file, chains: cfg.chains.map((c) => c.name), routes: cfg.routes.map((r) => `${r.from.chain}:${r.from.asset}->${r.to.chain}:${r.to.asset}`), warnings });
  },

  proof: (argv) => proofCommand(argv, print),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(USAGE + "\n");
    return name ? 0 : 2;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command && (rest.includes("--help") || rest.includes("-h"))) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (!command) {
    process.stderr.write(`isthmus: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  try {
    await command(rest);
    return 0;
  } catch (err) {
    const code = err instanceof IsthmusError ? ` [${err.code}]` : "";
    process.stderr.write(`isthmus ${name}: ${errorMessage(err).replace(/\s*\n\s*/g, " ")}${code}\n`);
    if (process.env.ISTHMUS_DEBUG) console.error(err);
    return 1;
  }
}

// Long-running commands resolve only after a clean shutdown, so exiting here is always safe
// (and stops gRPC channels or timers from holding the process open).
process.exit(await main(process.argv.slice(2)));
