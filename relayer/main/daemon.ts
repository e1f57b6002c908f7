import type { RelayerConfig } from "../config.ts";
import { startRelayer } from "../daemon.ts";
import { createLogger } from "../log.ts";
import { untilSignal } from "../../chains/shutdown-signal.ts";

/** `isthmus daemon --config file.yaml`: run until SIGINT/SIGTERM, then stop cleanly. */
export async function runDaemon(config: RelayerConfig): Promise<void> {
  const log = createLogger();
  const daemon = await startRelayer(config, log);
  log.info("relayer api listening", { url: daemon.api.url, dashboard: `${daemon.api.url}/`, config: config.file });
  const sig = await untilSignal();
  log.info("stopping", { signal: sig });
  await daemon.stop();
}
