import { createServer } from "node:net";
import { IsthmusError } from "../../chains/errors.ts";

export class PortBusyError extends IsthmusError {
  override name = "PortBusyError";
  constructor(service: string, port: number, envVar: string) {
    super("PORT_BUSY", `port ${port} for ${service} is in use (another devnet running?); stop it or set ${envVar}`, { service, port, envVar });
  }
}

function isFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Check every fixed port before anything is started or wiped. */
export async function assertPortsFree(ports: readonly { service: string; port: number; envVar: string }[], host = "127.0.0.1"): Promise<void> {
  for (const p of ports) {
    if (p.port !== 0 && !(await isFree(p.port, host))) throw new PortBusyError(p.service, p.port, p.envVar);
  }
}
