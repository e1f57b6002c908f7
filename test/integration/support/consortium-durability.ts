/**
 * For crash tests of consortium validators: a steady transfer load, what a validator
 * reported as committed (read back through its node API), and the check that a restarted
 * validator's own store still holds all of it.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { LedgerError } from "../../../chains/errors.ts";
import { type Hex } from "../../../proofs/hex.ts";
import { balanceKey, decodeBalance } from "../../../proofs/consortium/state.ts";
import { type Signer } from "../../../chains/consortium/crypto.ts";
import { type ConsortiumClient } from "../../../chains/consortium/rpc/client.ts";
import { signTx } from "../../../chains/consortium/tx.ts";

/** What a validator said it had committed at `height`, and `to`'s KRW balance after that block. */
export interface CommittedReport {
  readonly height: number;
  readonly hash: Hex;
  readonly stateRoot: Hex;
  readonly balance: bigint;
}

/** `owner`'s KRW balance after block `height`, as the node proves it (0 if absent). */
export async function balanceAt(client: ConsortiumClient, owner: Hex, height: number): Promise<bigint> {
  const at = await client.getState(balanceKey(owner, "KRW"), height);
  assert.equal(at.header.height, height);
  if (!at.found) return 0n;
  const d = decodeBalance(at.value);
  assert.ok(d.ok, "a balance entry decodes");
  return d.value;
}

/** The validator's head as it reports it: block hash, state root, and `owner`'s balance there. */
export async function reportCommitted(client: ConsortiumClient, owner: Hex): Promise<CommittedReport> {
  const status = await client.getStatus();
  const block = await client.getBlock(status.height);
  assert.ok(block, `block ${status.height} of a reported head`);
  assert.equal(block.hash, status.lastBlockHash, "the head block is the one the status names");
  return { height: status.height, hash: block.hash, stateRoot: block.header.stateRoot, balance: await balanceAt(client, owner, status.height) };
}

/**
 * Asserts the node holds every reported block with the same hash and state root, and the
 * reported balances at each height it still proves state for; returns how many balances it checked.
 */
export async function assertHoldsReports(client: ConsortiumClient, reports: readonly CommittedReport[], owner: Hex): Promise<number> {
  const head = (await client.getStatus()).height;
  const last = reports[reports.length - 1]!;
  assert.ok(head >= last.height, `the restarted validator is at height ${head}, below the ${last.height} it reported`);
  let balances = 0;
  for (const r of reports) {
    const block = await client.getBlock(r.height);
    assert.ok(block, `block ${r.height}, reported before the crash, is in the store`);
    assert.equal(block.hash, r.hash, `block ${r.height}: the hash reported before the crash`);
    assert.equal(block.header.stateRoot, r.stateRoot, `block ${r.height}: the state root reported before the crash`);
    const proven = await balanceAt(client, owner, r.height).catch((err: unknown) => {
      if (err instanceof LedgerError && err.details.grpcCode === grpc.status.OUT_OF_RANGE) return null; // older than the kept state versions
      throw err;
    });
    if (proven === null) continue;
    assert.equal(proven, r.balance, `balance after block ${r.height}, as reported before the crash`);
    balances++;
  }
  return balances;
}

export interface TransferLoad {
  /** Stops submitting, waits for the senders' loops; returns how many transfers they saw committed. */
  stop(): Promise<number>;
}

/**
 * Each sender, concurrently: signs `batch` transfers of 1 KRW (base unit) to `to`, submits
 * them through `client` and waits for the last to commit, again and again until stopped.
 */
export function startTransferLoad(client: ConsortiumClient, chainId: number, senders: readonly Signer[], to: Hex, batch = 10): TransferLoad {
  let running = true;
  let committed = 0;
  const loops = senders.map(async (s) => {
    let nonce = (await client.getAccount(s.address)).nonce;
    while (running) {
      const txs = Array.from({ length: batch }, (_, i) => signTx(s, { chainId, nonce: nonce + i, body: { kind: "transfer", to, asset: "KRW", amount: 1n } }));
      const results = await client.submitTxs(txs.map((t) => t.bytes));
      for (const r of results) if (!r.accepted) throw r.error;
      const st = await client.waitTx(txs[batch - 1]!.hash, 30_000);
      assert.equal(st.status, "committed", `transfer batch of ${s.address}`);
      nonce += batch;
      committed += batch;
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return committed;
    },
  };
}
