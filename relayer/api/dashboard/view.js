// Pure formatting for the dashboard: no DOM, no fetch, no clock.

/** Base units (decimal string) with `decimals` → whole units, trailing zeros trimmed ("1050", 2 → "10.5"). */
export function formatUnits(units, decimals) {
  const negative = units.startsWith("-");
  const digits = (negative ? units.slice(1) : units).padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const frac = digits.slice(digits.length - decimals).replace(/0+$/, "");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative ? "-" : "") + (frac ? `${grouped}.${frac}` : grouped);
}

/** 551 → "9m 11s"; 7300 → "2h 1m"; negative → "passed 5s ago". */
export function formatSecondsLeft(sec) {
  if (sec < 0) return `passed ${formatDuration(-sec)} ago`;
  return `${formatDuration(sec)} left`;
}

function formatDuration(sec) {
  const s = Math.floor(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Unix seconds → "2026-12-03 16:20:05". */
export function formatUnixTime(sec) {
  return new Date(sec * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
}

export const PHASES = {
  awaiting_user_lock: "waiting for the user's lock",
  relayer_locking: "relayer counter-locking",
  relayer_locked: "counter-locked; waiting for the user's claim",
  relayer_claiming: "relayer claiming the user's lock",
  relayer_refunding: "relayer refunding its counter-lock",
  completed: "completed",
  refunded: "refunded",
  rejected: "rejected",
  expired: "expired",
  failed: "failed (operator needed)",
};

export const FINAL_STATES = new Set(["completed", "refunded", "rejected", "expired", "failed"]);

export const DEADLINES = {
  "user-lock": "user must lock",
  "counter-lock": "user must claim",
  "relayer-claim": "relayer must claim",
};

/** Seconds of a chain's time left before a deadline, from the chain time the relayer last reported; null when unknown. */
export function secondsLeft(deadline, chains) {
  const c = chains.get(deadline.chain);
  return c && c.chainTime !== null ? deadline.time - c.chainTime : null;
}

/** "consortium:KRW" from an asset ref. */
export function assetRef(ref) {
  return `${ref.chain}:${ref.asset}`;
}

/** Decimals of an asset from the chains' asset tables; null when the page does not know the chain yet. */
export function decimalsOf(chains, chain, asset) {
  const a = chains.get(chain)?.assets.find((x) => x.symbol === asset);
  return a ? a.decimals : null;
}

export function shortId(id) {
  return id.slice(0, 10) + "…";
}
