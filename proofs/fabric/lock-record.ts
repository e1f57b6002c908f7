/**
 * The Isthmus chaincode's lock record (chains/fabric/chaincode/src/htlc.ts): JSON under the
 * composite key "\0lock\0<lockId>\0", whose id is sha256 over its defining fields. Repeated
 * here because proofs/ depends on nothing of ours; test/unit/proofs checks both agree.
 */
import { sha256 } from "./encoding.ts";

export type FabricLockStatus = "locked" | "claimed" | "refunded";

export interface FabricLock {
  readonly lockId: `0x${string}`;
  readonly sender: `0x${string}`;
  readonly receiver: `0x${string}`;
  /** The chaincode's asset id (its symbol). */
  readonly asset: string;
  readonly amount: bigint;
  readonly hashlock: `0x${string}`;
  readonly timelock: number;
  readonly status: FabricLockStatus;
  readonly preimage: `0x${string}` | null;
}

const HEX32 = /^0x[0-9a-f]{64}$/;
const ADDR = /^0x[0-9a-f]{40}$/;

/** shim.CreateCompositeKey("lock", [lockId]). */
export function lockStateKey(lockId: string): string {
  return `\u0000lock\u0000${lockId}\u0000`;
}

export function fabricLockId(sender: string, receiver: string, asset: string, amount: bigint, hashlock: string, timelock: number): `0x${string}` {
  const text = ["isthmus-fabric-htlc-v1", sender, receiver, asset, amount.toString(), hashlock, String(timelock)].join("|");
  return `0x${Buffer.from(sha256(Buffer.from(text, "utf8"))).toString("hex")}`;
}

/** Parses and checks a stored lock value; a string says what is wrong. */
export function parseLockRecord(value: Uint8Array): FabricLock | string {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(Buffer.from(value).toString("utf8")) as Record<string, unknown>;
  } catch {
    return "lock value is not JSON";
  }
  if (typeof j !== "object" || j === null) return "lock value is not a JSON object";
  const { lockId, sender, receiver, asset, amount, hashlock, timelock, status, preimage } = j;
  if (typeof lockId !== "string" || !HEX32.test(lockId)) return "lock value's lockId is not 32-byte hex";
  if (typeof sender !== "string" || !ADDR.test(sender) || typeof receiver !== "string" || !ADDR.test(receiver)) return "lock value's sender/receiver is not an address";
  if (typeof asset !== "string" || asset === "") return "lock value's asset is not a string";
  if (typeof amount !== "string" || !/^[1-9][0-9]*$/.test(amount)) return "lock value's amount is not a positive decimal string";
  if (typeof hashlock !== "string" || !HEX32.test(hashlock)) return "lock value's hashlock is not 32-byte hex";
  if (typeof timelock !== "number" || !Number.isSafeInteger(timelock) || timelock <= 0) return "lock value's timelock is not unix seconds";
  if (status !== "locked" && status !== "claimed" && status !== "refunded") return `lock value's status ${JSON.stringify(status)} is unknown`;
  const id = fabricLockId(sender, receiver, asset, BigInt(amount), hashlock, timelock);
  if (id !== lockId) return `lock value's fields hash to ${id}, not its lockId ${lockId}`;
  let pre: `0x${string}` | null = null;
  if (status === "claimed") {
    if (typeof preimage !== "string" || !HEX32.test(preimage)) return "claimed lock has no 32-byte preimage";
    const h = `0x${Buffer.from(sha256(Buffer.from(preimage.slice(2), "hex"))).toString("hex")}`;
    if (h !== hashlock) return "claimed lock's preimage does not hash to its hashlock";
    pre = preimage as `0x${string}`;
  }
  return { lockId: lockId as `0x${string}`, sender: sender as `0x${string}`, receiver: receiver as `0x${string}`, asset, amount: BigInt(amount), hashlock: hashlock as `0x${string}`, timelock, status, preimage: pre };
}
