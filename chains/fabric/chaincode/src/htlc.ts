/**
 * Isthmus chaincode: fungible tokens owned by client identities, and HTLC locks over them.
 *
 * Accounts: the address of a client identity is the last 20 bytes of
 * sha256(mspId ‖ 0x00 ‖ SubjectPublicKeyInfo DER of its certificate) — the key controls the
 * account, as on Isthmus's other ledgers.
 *
 * Time: Fabric has no block time. Expiry uses the transaction timestamp from the signed
 * proposal (the same on every endorser), and every endorser refuses a proposal whose
 * timestamp is more than TIME_BOUND_SEC from its own clock. So a client can shift "now" by
 * at most TIME_BOUND_SEC, and no single peer's clock decides; relayer margins include it.
 */
import { Context, Contract } from "fabric-contract-api";
import { createHash, createPublicKey } from "crypto";

/** How far a proposal's timestamp may be from each endorser's clock, in seconds. */
export const TIME_BOUND_SEC = 30;

const MAX_AMOUNT = (1n << 127n) - 1n;

interface StoredLock {
  lockId: string;
  sender: string;
  receiver: string;
  asset: string;
  amount: string;
  hashlock: string;
  timelock: number;
  status: "locked" | "claimed" | "refunded";
  preimage?: string;
}

function fail(code: string, message: string): never {
  throw new Error(`${code}: ${message}`);
}

function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function parseAmount(s: string): bigint {
  if (!/^[0-9]{1,39}$/.test(s)) fail("BAD_AMOUNT", `amount must be a positive integer in base units, got "${s}"`);
  const v = BigInt(s);
  if (v <= 0n || v > MAX_AMOUNT) fail("BAD_AMOUNT", `amount out of range: ${s}`);
  return v;
}

function parseAddress(s: string, what: string): string {
  if (!/^0x[0-9a-f]{40}$/.test(s)) fail("BAD_ADDRESS", `${what} must be a lower-case 0x 20-byte address, got "${s}"`);
  return s;
}

function parseAsset(s: string): string {
  if (!/^[A-Z][A-Z0-9]{0,15}$/.test(s)) fail("BAD_ASSET", `asset must be an upper-case symbol, got "${s}"`);
  return s;
}

function parseHex32(s: string, what: string): string {
  if (!/^0x[0-9a-f]{64}$/.test(s)) fail("BAD_HEX", `${what} must be 32 bytes of lower-case 0x hex`);
  return s;
}

/** The deterministic lock id: sha256 over the fields that define the lock (also computed by the adapter). */
export function lockIdOf(sender: string, receiver: string, asset: string, amount: bigint, hashlock: string, timelock: number): string {
  return "0x" + sha256Hex(["isthmus-fabric-htlc-v1", sender, receiver, asset, amount.toString(), hashlock, String(timelock)].join("|"));
}

export class IsthmusContract extends Contract {
  constructor() {
    super("isthmus");
  }

  // -- helpers (a leading underscore keeps them out of the contract's transactions)

  _caller(ctx: Context): string {
    const pem = Buffer.from(ctx.clientIdentity.getIDBytes()).toString("utf8");
    const spki = createPublicKey(pem).export({ type: "spki", format: "der" });
    const h = createHash("sha256").update(Buffer.from(ctx.clientIdentity.getMSPID(), "utf8")).update(Buffer.from([0])).update(spki).digest();
    return "0x" + h.subarray(12).toString("hex");
  }

  /** Proposal time in unix seconds, after this endorser's bound check. */
  _now(ctx: Context): number {
    const ts = ctx.stub.getTxTimestamp();
    const sec = Number(ts.seconds.toString());
    const local = Math.floor(Date.now() / 1000);
    if (Math.abs(sec - local) > TIME_BOUND_SEC) {
      fail("TIMESTAMP_OUT_OF_BOUND", `proposal timestamp ${sec} is more than ${TIME_BOUND_SEC}s from this endorser's clock ${local}`);
    }
    return sec;
  }

  _balKey(ctx: Context, asset: string, owner: string): string {
    return ctx.stub.createCompositeKey("bal", [asset, owner]);
  }

  async _balance(ctx: Context, asset: string, owner: string): Promise<bigint> {
    const b = await ctx.stub.getState(this._balKey(ctx, asset, owner));
    return b && b.length > 0 ? BigInt(Buffer.from(b).toString("utf8")) : 0n;
  }

  async _setBalance(ctx: Context, asset: string, owner: string, v: bigint): Promise<void> {
    const key = this._balKey(ctx, asset, owner);
    if (v === 0n) await ctx.stub.deleteState(key);
    else await ctx.stub.putState(key, Buffer.from(v.toString(), "utf8"));
  }

  async _lock(ctx: Context, lockId: string): Promise<StoredLock> {
    const b = await ctx.stub.getState(ctx.stub.createCompositeKey("lock", [lockId]));
    if (!b || b.length === 0) fail("LOCK_NOT_FOUND", `no lock ${lockId}`);
    return JSON.parse(Buffer.from(b).toString("utf8")) as StoredLock;
  }

  async _putLock(ctx: Context, l: StoredLock): Promise<void> {
    await ctx.stub.putState(ctx.stub.createCompositeKey("lock", [l.lockId]), Buffer.from(JSON.stringify(l), "utf8"));
  }

  // -- tokens

  /** The caller's address. */
  async WhoAmI(ctx: Context): Promise<string> {
    return this._caller(ctx);
  }

  /** Proposal time as accepted by this endorser (unix seconds). */
  async Now(ctx: Context): Promise<number> {
    return this._now(ctx);
  }

  /** Only identities with the certificate attribute isthmus.role=issuer may mint. */
  async Mint(ctx: Context, asset: string, to: string, amount: string): Promise<string> {
    if (!ctx.clientIdentity.assertAttributeValue("isthmus.role", "issuer")) fail("NOT_ISSUER", "caller lacks the attribute isthmus.role=issuer");
    parseAsset(asset);
    parseAddress(to, "to");
    const v = parseAmount(amount);
    const nb = (await this._balance(ctx, asset, to)) + v;
    if (nb > MAX_AMOUNT) fail("BAD_AMOUNT", "balance would overflow");
    await this._setBalance(ctx, asset, to, nb);
    ctx.stub.setEvent("Minted", Buffer.from(JSON.stringify({ asset, to, amount })));
    return nb.toString();
  }

  async Transfer(ctx: Context, asset: string, to: string, amount: string): Promise<void> {
    parseAsset(asset);
    parseAddress(to, "to");
    const v = parseAmount(amount);
    const from = this._caller(ctx);
    if (from === to) fail("BAD_ADDRESS", "cannot transfer to self");
    const fb = await this._balance(ctx, asset, from);
    if (fb < v) fail("INSUFFICIENT_BALANCE", `balance ${fb} < ${v}`);
    await this._setBalance(ctx, asset, from, fb - v);
    await this._setBalance(ctx, asset, to, (await this._balance(ctx, asset, to)) + v);
    ctx.stub.setEvent("Transferred", Buffer.from(JSON.stringify({ asset, from, to, amount })));
  }

  async BalanceOf(ctx: Context, asset: string, owner: string): Promise<string> {
    parseAsset(asset);
    parseAddress(owner, "owner");
    return (await this._balance(ctx, asset, owner)).toString();
  }

  // -- HTLC

  async LockIdFor(ctx: Context, sender: string, receiver: string, asset: string, amount: string, hashlock: string, timelock: string): Promise<string> {
    void ctx;
    return lockIdOf(parseAddress(sender, "sender"), parseAddress(receiver, "receiver"), parseAsset(asset), parseAmount(amount), parseHex32(hashlock, "hashlock"), Number(timelock));
  }

  /** Locks `amount` of the caller's `asset` for `receiver` until `timelock` (unix seconds). Returns the lock id. */
  async Lock(ctx: Context, receiver: string, asset: string, amount: string, hashlock: string, timelock: string): Promise<string> {
    parseAddress(receiver, "receiver");
    parseAsset(asset);
    const v = parseAmount(amount);
    parseHex32(hashlock, "hashlock");
    if (!/^[0-9]{1,12}$/.test(timelock)) fail("BAD_TIMELOCK", `timelock must be unix seconds, got "${timelock}"`);
    const tl = Number(timelock);
    const now = this._now(ctx);
    if (tl <= now) fail("TIMELOCK_IN_PAST", `timelock ${tl} is not after now ${now}`);
    const sender = this._caller(ctx);
    const lockId = lockIdOf(sender, receiver, asset, v, hashlock, tl);
    const existing = await ctx.stub.getState(ctx.stub.createCompositeKey("lock", [lockId]));
    if (existing && existing.length > 0) fail("LOCK_EXISTS", `lock ${lockId} already exists`);
    const bal = await this._balance(ctx, asset, sender);
    if (bal < v) fail("INSUFFICIENT_BALANCE", `balance ${bal} < ${v}`);
    await this._setBalance(ctx, asset, sender, bal - v);
    const l: StoredLock = { lockId, sender, receiver, asset, amount: v.toString(), hashlock, timelock: tl, status: "locked" };
    await this._putLock(ctx, l);
    ctx.stub.setEvent("Locked", Buffer.from(JSON.stringify(l)));
    return lockId;
  }

  /** Anyone holding the preimage may claim; the funds go to the receiver. Strictly before the timelock. */
  async Claim(ctx: Context, lockId: string, preimage: string): Promise<void> {
    parseHex32(lockId, "lockId");
    parseHex32(preimage, "preimage");
    const l = await this._lock(ctx, lockId);
    if (l.status !== "locked") fail("LOCK_NOT_OPEN", `lock ${lockId} is ${l.status}`);
    if ("0x" + sha256Hex(Buffer.from(preimage.slice(2), "hex")) !== l.hashlock) fail("BAD_PREIMAGE", "sha256(preimage) does not match the hashlock");
    const now = this._now(ctx);
    if (now >= l.timelock) fail("LOCK_EXPIRED", `now ${now} is at or after the timelock ${l.timelock}`);
    await this._setBalance(ctx, l.asset, l.receiver, (await this._balance(ctx, l.asset, l.receiver)) + BigInt(l.amount));
    l.status = "claimed";
    l.preimage = preimage;
    await this._putLock(ctx, l);
    ctx.stub.setEvent("Claimed", Buffer.from(JSON.stringify({ lockId, preimage })));
  }

  /** Anyone may refund at or after the timelock; the funds go back to the sender. */
  async Refund(ctx: Context, lockId: string): Promise<void> {
    parseHex32(lockId, "lockId");
    const l = await this._lock(ctx, lockId);
    if (l.status !== "locked") fail("LOCK_NOT_OPEN", `lock ${lockId} is ${l.status}`);
    const now = this._now(ctx);
    if (now < l.timelock) fail("LOCK_NOT_EXPIRED", `now ${now} is before the timelock ${l.timelock}`);
    await this._setBalance(ctx, l.asset, l.sender, (await this._balance(ctx, l.asset, l.sender)) + BigInt(l.amount));
    l.status = "refunded";
    await this._putLock(ctx, l);
    ctx.stub.setEvent("Refunded", Buffer.from(JSON.stringify({ lockId })));
  }

  /** The lock as JSON, or "" when there is none. */
  async GetLock(ctx: Context, lockId: string): Promise<string> {
    parseHex32(lockId, "lockId");
    const b = await ctx.stub.getState(ctx.stub.createCompositeKey("lock", [lockId]));
    return b && b.length > 0 ? Buffer.from(b).toString("utf8") : "";
  }
}
