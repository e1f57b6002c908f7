/**
 * The evidence the relayer keeps for an auditor: a proof bundle of the lock state it is
 * about to act on. The adapter produced (and verified) the bundle against its own trust
 * anchor; here the bundle is re-verified offline exactly as an auditor would
 * (proofs/bundle.ts) and must prove the very lock the decision used — same id, parties,
 * amount, hashlock, timelock and status — else the relayer does not act.
 */
import type { HtlcLock } from "../../chains/ledger.ts";
import { type ProofBundle, verifyProofBundle } from "../../proofs/bundle.ts";

export type EvidenceCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Whether `bundle` (as it will be stored: plain JSON) proves `lock`, which is in `status`. */
export function checkEvidence(bundle: ProofBundle, lock: HtlcLock): EvidenceCheck {
  const r = verifyProofBundle(JSON.parse(JSON.stringify(bundle)));
  if (!r.ok) return { ok: false, reason: `proof bundle does not verify: ${r.reason}` };
  if (r.lock === null) return { ok: false, reason: `proof bundle proves that lock ${lock.lockId} does not exist` };
  const want = {
    lockId: lock.lockId,
    sender: lock.sender,
    receiver: lock.receiver,
    amount: lock.amount.toString(),
    hashlock: lock.hashlock,
    timelock: String(lock.timelock),
    status: lock.status,
    preimage: lock.status === "claimed" ? lock.preimage : null,
  };
  for (const [k, v] of Object.entries(want)) {
    const got = (r.lock as unknown as Record<string, unknown>)[k];
    if (String(got).toLowerCase() !== String(v).toLowerCase()) return { ok: false, reason: `proof bundle's lock has ${k} ${String(got)}, the verified read has ${String(v)}` };
  }
  return { ok: true };
}
