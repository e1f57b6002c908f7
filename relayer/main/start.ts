import { fabricAddress } from "../../chains/fabric/identity.ts";
import { devnetHome } from "../devnet-file.ts";
import { DEVNET_KEYS, startDevnet } from "../devnet.ts";
import { createLogger } from "../log.ts";
import { untilSignal } from "./shutdown.ts";

/**
 * `npm start`: the embedded devnet and the relayer daemon, until Ctrl-C.
 * Fixed ports so a second terminal finds them; the devnet file says where everything is.
 */
export async function runDevnet(): Promise<void> {
  const log = createLogger({ level: (process.env.ISTHMUS_LOG_LEVEL as "info" | undefined) ?? "warn" });
  const dir = devnetHome();
  const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  const devnet = await startDevnet({
    dir,
    ports: { consortium: port("ISTHMUS_CONSORTIUM_PORT", 7710), evm: port("ISTHMUS_EVM_PORT", 8545), api: port("ISTHMUS_API_PORT", 7700), fabric: port("ISTHMUS_FABRIC_PORT", 7051) },
    log,
  });
  const line = (name: string, address: string) => process.stdout.write(`${name.padEnd(12)} ${address}\n`);
  for (const s of devnet.services) line(s.name, s.address);
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
