import { InvalidInputError } from "../../chains/errors.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { loadConfig } from "../config.ts";
import { parseAssetRef } from "../core/route.ts";
import { defaultDevnetFile, readDevnetFile } from "../devnet-file.ts";
import { parseFlags, positiveInt, required } from "./args.ts";

/**
 * Operator commands: `relayer start|status` and `swaps list|show`. The read commands talk to
 * a running daemon's API (--api <url>, or the devnet file's address by default).
 */
export const RELAYER_USAGE = `  relayer start --config <file.yaml>
      run the relayer daemon (same as \`daemon\`) until SIGINT/SIGTERM, then stop cleanly
  relayer status [--api <url> | --devnet <file>]
      the running daemon's chains (final heights, relayer addresses), swaps by state, draining
  swaps list [--state <state>] [--route <chain:ASSET->chain:ASSET>] [--limit <n>] [--api <url> | --devnet <file>]
      swaps, newest first
  swaps show <id> [--api <url> | --devnet <file>]
      one swap with its full state history`;

type Out = (value: unknown) => void;
const API_FLAGS = { api: { type: "string" }, devnet: { type: "string" } } as const;

function apiFrom(values: { api?: string | undefined; devnet?: string | undefined }): RelayerClient {
  if (values.api !== undefined && values.devnet !== undefined) throw new InvalidInputError("arguments", "give --api or --devnet, not both");
  const url = values.api ?? readDevnetFile(values.devnet ?? defaultDevnetFile()).api;
  if (!/^https?:\/\/[^\s/]+/.test(url)) throw new InvalidInputError("--api", `"${url}" is not an http(s) URL`);
  return new RelayerClient(url.replace(/\/+$/, ""), 10_000);
}

function onlyPositionals(positionals: string[], n: number, usage: string): void {
  if (positionals.length !== n) throw new InvalidInputError("arguments", `usage: isthmus ${usage}`);
}

export async function relayerCommand(argv: string[], print: Out): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "start": {
      const { values, positionals } = parseFlags(rest, { config: { type: "string" } }, "relayer start");
      onlyPositionals(positionals, 0, "relayer start --config <file.yaml>");
      const { runDaemon } = await import("../main/daemon.ts");
      await runDaemon(loadConfig(required(values.config, "config", "relayer start")));
      return;
    }
    case "status": {
      const { values, positionals } = parseFlags(rest, API_FLAGS, "relayer status");
      onlyPositionals(positionals, 0, "relayer status [--api <url> | --devnet <file>]");
      print(await apiFrom(values).get("/status"));
      return;
    }
    default:
      throw new InvalidInputError("relayer", sub === undefined ? `needs a subcommand (start, status); see isthmus --help` : `unknown subcommand "${sub}" (start, status)`);
  }
}

export async function swapsCommand(argv: string[], print: Out): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "list": {
      const { values, positionals } = parseFlags(rest, { ...API_FLAGS, state: { type: "string" }, route: { type: "string" }, limit: { type: "string" } }, "swaps list");
      onlyPositionals(positionals, 0, "swaps list [--state <state>] [--route <route>] [--limit <n>]");
      const q = new URLSearchParams();
      if (values.state !== undefined) q.set("state", values.state);
      if (values.route !== undefined) {
        const halves = values.route.split("->");
        if (halves.length !== 2) {
          // Unquoted, `--route a:X->b:Y` reaches us as "a:X-": the shell took ">b:Y" as a redirect.
          const shell = values.route.endsWith("-") ? `; unquoted, the shell reads ">" as a redirect (and may have written a file named after the destination): quote it, --route 'consortium:KRW->evm:KRWT'` : "";
          throw new InvalidInputError("--route", `"${values.route}" is not <chain:ASSET>-><chain:ASSET>${shell}`);
        }
        halves.forEach((h, i) => parseAssetRef(h, i === 0 ? "--route (from)" : "--route (to)"));
        q.set("route", values.route);
      }
      const limit = positiveInt(values.limit, "limit", 1000);
      if (limit !== undefined) q.set("limit", String(limit));
      const qs = q.toString();
      // The API checks the state and answers a typed 400 naming the problem.
      print(await apiFrom(values).get(`/swaps${qs ? `?${qs}` : ""}`));
      return;
    }
    case "show": {
      const { values, positionals } = parseFlags(rest, API_FLAGS, "swaps show");
      onlyPositionals(positionals, 1, "swaps show <id>");
      const id = positionals[0]!;
      if (!/^[0-9a-f]{24}$/.test(id)) throw new InvalidInputError("id", `"${id}" is not a swap id (24 hex digits)`);
      print(await apiFrom(values).get(`/swaps/${id}`));
      return;
    }
    default:
      throw new InvalidInputError("swaps", sub === undefined ? `needs a subcommand (list, show); see isthmus --help` : `unknown subcommand "${sub}" (list, show)`);
  }
}
