import { InvalidInputError } from "../../chains/errors.ts";
import { fabricAddress } from "../../chains/fabric/identity.ts";
import { devnetHome } from "../devnet-file.ts";
import { DEVNET_KEYS, startDevnet } from "../devnet.ts";
import { createLogger } from "../log.ts";
import { assertPortsFree } from "./ports.ts";
import { untilSignal } from "../../chains/shutdown-signal.ts";

/**
 * `npm start`: the embedded devnet and the relayer daemon, until Ctrl-C.
 * Fixed ports so a second terminal finds them; the devnet file says where everything is.
 */
export async function runDevnet(): Promise<void> {
  const log = createLogger({ level: (process.env.ISTHMUS_LOG_LEVEL as "info" | undefined) ?? "warn" });
  const dir = devnetHome();
  const port = (envVar: string, fallback: number) => {
    const text = process.env[envVar] ?? String(fallback);
    if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new InvalidInputError(envVar, `"${text}" is not a port number`);
    return Number(text);
  };
  const ports = {
    consortium: port("ISTHMUS_CONSORTIUM_PORT", 7710),
    evm: port("ISTHMUS_EVM_PORT", 8545),
    api: port("ISTHMUS_API_PORT", 7700),
    fabric: port("ISTHMUS_FABRIC_PORT", 7051),
    metrics: port("ISTHMUS_METRICS_PORT", 7709),
  };
  // Before wiping the state folder: a second `npm start` must not destroy a running devnet's files.
  await assertPortsFree([
    { service: "the consortium node", port: ports.consortium, envVar: "ISTHMUS_CONSORTIUM_PORT" },
    { service: "the Hardhat node", port: ports.evm, envVar: "ISTHMUS_EVM_PORT" },
    { service: "the relayer API", port: ports.api, envVar: "ISTHMUS_API_PORT" },
    { service: "the Fabric gateway", port: ports.fabric, envVar: "ISTHMUS_FABRIC_PORT" },
    { service: "the relayer metrics listener", port: ports.metrics, envVar: "ISTHMUS_METRICS_PORT" },
  ]);
  const devnet = await startDevnet({ dir, ports, log });
  const line = (name: string, address: string) => process.stdout.write(`${name.padEnd(12)} ${address}\n`);
  for (const s of devnet.services) line(s.name, s.address);
  if (devnet.relayer) line("dashboard", `${devnet.relayer.api.url}/ (open in a browser)`);
  line("devnet file", devnet.file);
  line("config", devnet.configFile);
  line("demo user", `${DEVNET_KEYS.user.address} (one key on the consortium and EVM chains)`);
  line("relayer", `${DEVNET_KEYS.relayer.address}`);
  for (const who of ["alice", "relayer"]) {
    const id = devnet.fabric.network.identity("Org1MSP", who);
    line(`fabric ${who === "alice" ? "user" : who}`, `${fabricAddress(id.mspId, id.certPem)} (certificate Org1MSP/users/${who})`);
  }
  for (const m of devnet.relayer?.engine.margins() ?? []) {
    line("margin", `${m.route}: ${m.margin.totalSec}s (user timelock >= ${m.minUserLockSec}s)`);
  }
  process.stdout.write(`ready: try \`npx isthmus swap --from consortium:KRW --to evm:KRWT --amount 100\` in another terminal; Ctrl-C stops\n`);
  await untilSignal();
  process.stdout.write("stopping...\n");
  await devnet.stop();
  process.stdout.write("stopped\n");
}
