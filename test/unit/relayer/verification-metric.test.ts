/**
 * isthmus_verification_failures_total's `reason` label: the reasons the adapters and
 * proofs/ give (as seen in test/integration/lying-rpc.test.ts) fall into a few stable classes.
 */
import assert from "node:assert/strict";
import { verificationReasonLabel } from "../../../relayer/ops/metrics.ts";

describe("verification failure reason classes", function () {
  it("maps each kind of forged answer to its class", function () {
    const cases: [string, string][] = [
      ["lock 0x12 in block 4: endorsement policy /Channel/Application/Endorsement is not satisfied (valid endorsements from: none)", "endorsement"],
      ["block 7: orderer signature 0 (OrdererMSP): signature does not verify", "signature"],
      ["commit: commit is for a different block hash", "signature"],
      ["header chain 22..27: header 26's parentHash is not the hash of header 25", "header_chain"],
      ["block 8's previous_hash is not the hash of block 7", "header_chain"],
      ["header 48 differs from the one verified at that height", "header_chain"],
      ["block 3: data_hash mismatch", "block"],
      ["transaction 0xab is marked MVCC_READ_CONFLICT in the transactions filter, not VALID", "block"],
      ["lock 0x1 at height 15: storage value 0 claimed as 0x10 but the proof shows 0x11", "state_proof"],
      ["lock 0x2: lock value: non-canonical encoding", "state_proof"],
      ["lock event 0x3 not backed by the lock's proven state", "false_event"],
      ["lock value's fields hash to 0x5, not its lockId 0x6", "state_proof"],
      ["claimed lock has no 32-byte preimage", "lock_record"],
      ["something new", "other"],
    ];
    for (const [reason, label] of cases) assert.equal(verificationReasonLabel(reason), label, reason);
  });
});
