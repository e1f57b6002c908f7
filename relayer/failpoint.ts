/**
 * Named crash points for recovery tests: `ISTHMUS_FAILPOINTS=sent:claim,after:relayer_locked`
 * (optionally `name@route`) makes the process SIGKILL itself at that instant — the same as `kill -9` there, but
 * deterministic. Unset in production, where each call is one Set lookup.
 */
const active = new Set(
  (process.env.ISTHMUS_FAILPOINTS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);

/** `scope` narrows a point to one swap route: `sent:claim@evm:KRWT->consortium:KRW` fires only for that route. */
export function failpoint(name: string, scope?: string): void {
  if (active.size === 0) return;
  if (active.has(name) || (scope !== undefined && active.has(`${name}@${scope}`))) process.kill(process.pid, "SIGKILL");
}
