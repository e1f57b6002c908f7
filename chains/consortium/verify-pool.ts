/**
 * Signature verification on worker threads, so a node verifies a batch of submitted txs on
 * another core while its main thread runs consensus. The pool only WARMS the per-process
 * cache of verified senders (tx.ts): a tx it verified is not verified again by
 * `checkTxStateless`; anything it did not verify (a bad signature, a worker that failed or
 * was slow to start) is verified on the main thread as before, which also produces the
 * BAD_SIGNATURE reason. So the pool can make admission faster, never more permissive.
 */
import { Worker } from "node:worker_threads";
import { type AuthResult, splitSignedTx } from "./tx-auth.ts";
import { decodeTx, rememberVerifiedSender, signatureUnchecked, type SignedTx } from "./tx.ts";
import { type VerifyRequest, type VerifyResponse } from "./verify-worker.ts";
import { TxRejectedError } from "./codes.ts";

const WORKER_URL = new URL("./verify-worker.ts", import.meta.url);
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;

interface Waiting {
  readonly resolve: (results: readonly AuthResult[]) => void;
  readonly reject: (err: Error) => void;
}

export class SignatureVerifyPool {
  readonly #workers: Worker[] = [];
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 0;
  #next = 0;
  #closed = false;

  /** `size` worker threads (at least 1). */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`verify pool size must be a positive integer, got ${size}`);
    for (let i = 0; i < size; i++) {
      // The worker is TypeScript like the rest of the node: it registers tsx itself, whatever
      // flags the parent thread had (a test runner may have registered tsx without execArgv).
      const w = new Worker(WORKER_BOOT, { eval: true });
      w.unref(); // never keeps the process alive
      w.on("message", (res: VerifyResponse) => {
        const waiting = this.#waiting.get(res.id);
        this.#waiting.delete(res.id);
        waiting?.resolve(res.results);
      });
      // A worker that dies takes its unanswered batches with it: fail them (admission then
      // verifies on the main thread) and stop using it.
      const drop = (err: Error) => {
        const at = this.#workers.indexOf(w);
        if (at >= 0) this.#workers.splice(at, 1);
        this.failAll(err);
      };
      w.on("error", drop);
      w.on("exit", (code) => drop(new Error(`verify worker exited with code ${code}`)));
      this.#workers.push(w);
    }
  }

  /** The authenticators' signers (the chain's `authenticate`), computed on a worker. */
  verify(items: VerifyRequest["items"]): Promise<readonly AuthResult[]> {
    if (this.#closed) return Promise.reject(new Error("verify pool is closed"));
    if (this.#workers.length === 0) return Promise.reject(new Error("verify pool has no live worker"));
    if (items.length === 0) return Promise.resolve([]);
    const id = this.#nextId++;
    const worker = this.#workers[this.#next++ % this.#workers.length]!;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ id, items } satisfies VerifyRequest);
    });
  }

  /**
   * Verifies the signatures of these signed txs off the main thread and remembers each
   * valid one, so admitting them next costs no verification. Returns the bytes to admit,
   * aligned with `txs`: the decoded tx's own array where it decodes (admission then does not
   * decode it again), the input otherwise. Never throws for bad input: bytes that do not
   * decode, bad signatures and worker failures are left for admission to report.
   */
  async prevalidate(txs: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const out = [...txs];
    const pending: { tx: SignedTx; item: VerifyRequest["items"][number] }[] = [];
    for (const [i, bytes] of txs.entries()) {
      let tx: SignedTx;
      try {
        tx = decodeTx(bytes);
      } catch (err) {
        if (err instanceof TxRejectedError) continue;
        throw err;
      }
      out[i] = tx.bytes;
      if (!signatureUnchecked(tx)) continue;
      const split = splitSignedTx(tx.bytes);
      if (split.ok) pending.push({ tx, item: { scheme: split.scheme, unsigned: split.unsigned, auth: split.auth } });
    }
    let results: readonly AuthResult[];
    try {
      results = await this.verify(pending.map((p) => p.item));
    } catch {
      return out; // admission verifies on the main thread
    }
    results.forEach((r, i) => {
      if (r.ok) rememberVerifiedSender(pending[i]!.tx, r.address);
    });
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.failAll(new Error("verify pool closed"));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  private failAll(err: Error): void {
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
  }
}
