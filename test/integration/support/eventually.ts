/**
 * Polls `probe` until it returns a value (undefined = not yet; a throw counts as not yet and
 * is kept for the message) or `timeoutMs` passes, then fails naming what it waited for.
 */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, pollMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
