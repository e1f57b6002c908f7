import { readFileSync } from "node:fs";

/**
 * What an interrupted `swap` leaves behind, read from its record file: nothing, a lock that
 * may have been sent (phase "locking": the interrupt came while sending it), or a lock.
 */
export function interruptedSwap(created: { swapId: string; secretFile: string } | null): string {
  if (!created) return "nothing was locked";
  let record: { phase?: string; userLock?: { chain: string; lockId: string; timelock: number } };
  try {
    record = JSON.parse(readFileSync(created.secretFile, "utf8")) as typeof record;
  } catch {
    return `swap ${created.swapId} was registered; its record ${created.secretFile} could not be read, so whether a lock was sent is unknown: run npx isthmus recover`;
  }
  const l = record.userLock;
  if (record.phase === "created" || !l) return `swap ${created.swapId} was registered but nothing was locked`;
  const finish = `its secret is saved in ${created.secretFile}; finish it with: npx isthmus recover (claims a verified counter-lock, or refunds after chain time ${l.timelock})`;
  if (record.phase === "locking") return `your lock ${l.lockId} on ${l.chain} (swap ${created.swapId}) may have been sent: the interrupt came while sending it; ${finish}`;
  return `your lock ${l.lockId} on ${l.chain} (swap ${created.swapId}) stays locked; ${finish}`;
}
