import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { IsthmusError } from "../../chains/errors.ts";

/**
 * API keys per tenant and per-tenant rate limits. The config holds only sha256(key): keys
 * are 32 random bytes, so a fast hash is enough (no dictionary to guess from), and a leaked
 * config does not leak a key.
 */
export interface TenantConfig {
  readonly name: string;
  /** Lower-case hex sha256 of the tenant's API key. */
  readonly keySha256: string;
  /** Sustained requests per minute (token bucket refill). */
  readonly ratePerMinute: number;
  /** Requests allowed at once (bucket size). */
  readonly burst: number;
}

export const DEFAULT_RATE_PER_MINUTE = 600;
export const DEFAULT_BURST = 60;

export class UnauthorizedError extends IsthmusError {
  override name = "UnauthorizedError";
  constructor(problem: string) {
    super("UNAUTHORIZED", problem, {});
  }
}

export class RateLimitedError extends IsthmusError {
  override name = "RateLimitedError";
  constructor(
    tenant: string,
    readonly retryAfterSec: number,
  ) {
    super("RATE_LIMITED", `tenant ${tenant} is over its rate limit; retry in ${retryAfterSec}s`, { tenant, retryAfterSec });
  }
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** A fresh API key ("isk_" + 64 hex chars) and the hash to put in the config. */
export function newApiKey(): { key: string; keySha256: string } {
  const key = `isk_${randomBytes(32).toString("hex")}`;
  return { key, keySha256: hashApiKey(key) };
}

/** Token bucket; time is passed in so tests pin it. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.last = nowMs;
  }

  /** Take one token: 0 when allowed, else seconds until one is available. */
  take(nowMs: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 60_000) * this.perMinute);
    this.last = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 60) / this.perMinute));
  }
}

export class TenantAuth {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly hashes: { tenant: TenantConfig; hash: Buffer }[];

  constructor(
    readonly tenants: readonly TenantConfig[],
    private readonly now: () => number = Date.now,
  ) {
    this.hashes = tenants.map((t) => ({ tenant: t, hash: Buffer.from(t.keySha256, "hex") }));
  }

  /** The tenant a request's key belongs to, or null without a key; throws on a wrong key. */
  identify(authorization: string | undefined, xApiKey: string | undefined): TenantConfig | null {
    const bearer = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const key = bearer ?? xApiKey;
    if (key === undefined) return null;
    const h = createHash("sha256").update(key, "utf8").digest();
    // Compare against every tenant in constant time per entry.
    let found: TenantConfig | null = null;
    for (const e of this.hashes) if (e.hash.length === h.length && timingSafeEqual(e.hash, h)) found = e.tenant;
    if (!found) throw new UnauthorizedError("unknown API key");
    return found;
  }

  /** A tenant is required (mutating endpoints). */
  require(authorization: string | undefined, xApiKey: string | undefined): TenantConfig {
    if (this.tenants.length === 0) throw new UnauthorizedError("this relayer has no API keys configured (api.tenants); mutating endpoints are closed");
    const t = this.identify(authorization, xApiKey);
    if (!t) throw new UnauthorizedError("this endpoint needs an API key: send `Authorization: Bearer <key>`");
    return t;
  }

  /** Count one request against the tenant's limit; throws RateLimitedError when over. */
  charge(tenant: TenantConfig): void {
    const now = this.now();
    let b = this.buckets.get(tenant.name);
    if (!b) this.buckets.set(tenant.name, (b = new TokenBucket(tenant.ratePerMinute, tenant.burst, now)));
    const wait = b.take(now);
    if (wait > 0) throw new RateLimitedError(tenant.name, wait);
  }
}
