/**
 * Named crash points for recovery tests: `ISTHMUS_FAILPOINTS=sent:claim,after:relayer_locked`
 * makes the process SIGKILL itself at that instant — the same as `kill -9` there, but
 * deterministic. Unset in production, where each call is one Set lookup.
 */
const active = new Set(
  (process.env.ISTHMUS_FAILPOINTS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);

export function failpoint(name: string): void {
  if (active.size > 0 && active.has(name)) process.kill(process.pid, "SIGKILL");
}
