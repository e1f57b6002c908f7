/**
 * Worker thread of verify-pool.ts: runs the chain's own tx authentication (tx-auth.ts) on
 * batches and answers each item with the address it proves, or why not.
 */
import { parentPort } from "node:worker_threads";
import { authenticate, type AuthResult, type TxAuthScheme } from "./tx-auth.ts";

export interface VerifyRequest {
  readonly id: number;
  readonly items: readonly { readonly scheme: TxAuthScheme; readonly unsigned: Uint8Array; readonly auth: Uint8Array }[];
}

export interface VerifyResponse {
  readonly id: number;
  readonly results: readonly AuthResult[];
}

if (!parentPort) throw new Error("verify-worker.ts runs only as a worker thread");
const port = parentPort;
port.on("message", (req: VerifyRequest) => {
  const results = req.items.map((i): AuthResult => {
    try {
      return authenticate(i.scheme, i.unsigned, i.auth);
    } catch (err) {
      return { ok: false, reason: `verifier failed: ${(err as Error).message}` };
    }
  });
  port.postMessage({ id: req.id, results } satisfies VerifyResponse);
});
